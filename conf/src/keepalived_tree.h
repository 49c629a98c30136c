// Internal to lbd_conf: keepalived.conf as a tree of statements, the first
// stage of ImportKeepalived*() (import.h).
//
// A statement is a keyword and the words after it on its line; `{ ... }`
// after it (on the same or a following line) holds its children. `!` and `#`
// start comments, "double quotes" make one word, `include GLOB` lines are
// replaced by the statements of the matching files.
//
// Thread-safety: plain values and pure functions (ParseKeepalived reads the
// included files).
#ifndef LBD_CONF_SRC_KEEPALIVED_TREE_H_
#define LBD_CONF_SRC_KEEPALIVED_TREE_H_

#include <string>
#include <string_view>
#include <vector>

namespace lbd::import {

struct KaNode {
  std::string key;
  std::vector<std::string> args;
  bool has_block = false;
  std::vector<KaNode> block;
  std::string where;  // "FILE:LINE"
};

struct KaTree {
  std::vector<KaNode> nodes;
  std::vector<std::string> warnings;  // "FILE:LINE: warning: ..."
  std::vector<std::string> errors;    // "FILE:LINE: ..."
};

// `text` is the content of `file_name`; includes are read relative to its
// directory. Stops at the first structural error (braces), or after
// kMaxErrors others.
KaTree ParseKeepalived(std::string_view text, const std::string& file_name);

}  // namespace lbd::import

#endif  // LBD_CONF_SRC_KEEPALIVED_TREE_H_

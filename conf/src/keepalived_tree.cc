// ParseKeepalived(): keepalived.conf text -> statements (keepalived_tree.h).
#include "keepalived_tree.h"

#include <glob.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "import_util.h"

namespace lbd::import {
namespace {

constexpr size_t kMaxBytes = size_t{16} << 20;  // all files together
constexpr int kMaxIncludeDepth = 8;
constexpr int kMaxNesting = 32;

struct Token {
  std::string text;
  std::string where;
  int line_id;  // equal for tokens of one source line
  bool brace;   // an unquoted { or }
};

class Lexer {
 public:
  explicit Lexer(KaTree& tree) : tree_(tree) {}

  void File(std::string_view text, const std::string& name, int depth) {
    if (int bad = FirstBinaryLine(text); bad != 0) {
      tree_.errors.push_back(At(name, bad) + ": binary data: not a keepalived configuration");
      return;
    }
    total_ += text.size();
    if (total_ > kMaxBytes) {
      tree_.errors.push_back(At(name, 1) + ": the configuration exceeds 16 MiB");
      return;
    }
    int number = 0;
    size_t pos = 0;
    while (pos < text.size() && tree_.errors.empty()) {
      size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      ++number;
      Line(text.substr(pos, end - pos), name, number, depth);
      pos = end + 1;
    }
  }

  std::vector<Token> tokens;

 private:
  void Line(std::string_view line, const std::string& name, int number, int depth) {
    const std::string where = At(name, number);
    const int id = ++line_id_;
    std::vector<Token> words;
    size_t i = 0;
    while (i < line.size()) {
      const char c = line[i];
      if (c == ' ' || c == '\t' || c == '\r') {
        ++i;
      } else if (c == '!' || c == '#') {
        break;
      } else if (c == '{' || c == '}') {
        words.push_back({std::string(1, c), where, id, true});
        ++i;
      } else if (c == '"') {
        const size_t close = line.find('"', i + 1);
        if (close == std::string_view::npos) {
          tree_.errors.push_back(where + ": unterminated \"quoted string\"");
          return;
        }
        words.push_back({std::string(line.substr(i + 1, close - i - 1)), where, id, false});
        i = close + 1;
      } else {
        size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r' &&
               line[j] != '{' && line[j] != '}' && line[j] != '!' && line[j] != '#') {
          ++j;
        }
        words.push_back({std::string(line.substr(i, j - i)), where, id, false});
        i = j;
      }
    }
    if (words.empty()) return;
    const std::string& first = words[0].text;
    if (!words[0].brace && (first[0] == '@' || first[0] == '$' || first[0] == '~')) {
      tree_.warnings.push_back(where + ": warning: conditional configuration and parameter " +
                               "substitution (@, $, ~) are not supported by lbd: line ignored");
      return;
    }
    if (!words[0].brace && first == "include") {
      if (words.size() != 2 || words[1].brace) {
        tree_.errors.push_back(where + ": include needs one file name or glob");
        return;
      }
      Include(words[1].text, name, where, depth);
      return;
    }
    for (auto& w : words) tokens.push_back(std::move(w));
  }

  void Include(const std::string& pattern, const std::string& from, const std::string& where,
               int depth) {
    if (depth >= kMaxIncludeDepth) {
      tree_.errors.push_back(where + ": includes nested deeper than 8 (a loop?)");
      return;
    }
    std::string full = pattern;
    const size_t slash = from.rfind('/');
    if (full[0] != '/' && slash != std::string::npos) full = from.substr(0, slash + 1) + full;
    glob_t g{};
    const int rc = glob(full.c_str(), 0, nullptr, &g);
    if (rc == GLOB_NOMATCH) {
      tree_.warnings.push_back(where + ": warning: include " + pattern + " matches no file");
    } else if (rc != 0) {
      tree_.errors.push_back(where + ": include " + pattern + ": cannot expand");
    }
    for (size_t i = 0; rc == 0 && i < g.gl_pathc && tree_.errors.empty(); ++i) {
      const std::string path = g.gl_pathv[i];
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        tree_.errors.push_back(where + ": include " + path +
                               ": cannot read: " + std::strerror(errno));
        break;
      }
      std::string text;
      char buf[65536];
      while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
        text.append(buf, static_cast<size_t>(in.gcount()));
        if (total_ + text.size() > kMaxBytes) break;
      }
      File(text, path, depth + 1);
    }
    globfree(&g);
  }

  KaTree& tree_;
  size_t total_ = 0;
  int line_id_ = 0;
};

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, KaTree& tree) : t_(tokens), tree_(tree) {}

  // Statements until `}` (nesting > 0) or the end; false on an error.
  bool Block(std::vector<KaNode>& out, int nesting, const std::string& opened_at) {
    while (i_ < t_.size()) {
      const Token& tok = t_[i_];
      if (tok.brace && tok.text == "}") {
        if (nesting == 0) {
          tree_.errors.push_back(tok.where + ": '}' without a matching '{'");
          return false;
        }
        ++i_;
        return true;
      }
      if (tok.brace) {
        tree_.errors.push_back(tok.where + ": '{' without a keyword before it");
        return false;
      }
      KaNode node;
      node.key = tok.text;
      node.where = tok.where;
      ++i_;
      while (i_ < t_.size() && !t_[i_].brace && t_[i_].line_id == tok.line_id) {
        node.args.push_back(t_[i_++].text);
      }
      if (i_ < t_.size() && t_[i_].brace && t_[i_].text == "{") {
        if (nesting + 1 > kMaxNesting) {
          tree_.errors.push_back(t_[i_].where + ": blocks nested deeper than 32");
          return false;
        }
        node.has_block = true;
        const std::string where = t_[i_].where;
        ++i_;
        if (!Block(node.block, nesting + 1, where)) return false;
      }
      out.push_back(std::move(node));
    }
    if (nesting > 0) {
      tree_.errors.push_back(opened_at + ": '{' never closed (end of input reached)");
      return false;
    }
    return true;
  }

 private:
  const std::vector<Token>& t_;
  KaTree& tree_;
  size_t i_ = 0;
};

}  // namespace

KaTree ParseKeepalived(std::string_view text, const std::string& file_name) {
  KaTree tree;
  Lexer lexer(tree);
  lexer.File(text, file_name, 0);
  if (!tree.errors.empty()) return tree;
  Parser(lexer.tokens, tree).Block(tree.nodes, 0, "");
  return tree;
}

}  // namespace lbd::import

// Public header of lbd_conf.
//
// Converters from keepalived.conf and `ipvsadm -S -n` rules to a Config
// (`lbctl import keepalived|ipvsadm FILE`). They map what lbd has with the
// source's meaning (conf/README.md, "Importing") and report, with the source's
// FILE:LINE, a warning per construct lbd lacks and an error per malformed
// input. A result with errors carries no YAML: a partial conversion is never
// presented as complete.
//
// Thread-safety: pure functions of their input (ImportKeepalivedFile reads the
// file system, nothing else).
#ifndef LBD_CONF_IMPORT_H_
#define LBD_CONF_IMPORT_H_

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lbd/conf/config.h"

namespace lbd {

struct ImportResult {
  Config config;
  std::vector<std::string> warnings;  // "FILE:LINE: message", lbd lacks the construct
  std::vector<std::string> errors;    // "FILE:LINE: message", malformed input
  // "FILE:LINE" of each service, VRRP instance and (service, server) in the source.
  std::map<std::string, std::string> service_origin;
  std::map<std::string, std::string> vrrp_origin;
  std::map<std::pair<std::string, std::string>, std::string> server_origin;
  // The YAML (DumpConfig with the origins as comments), set only when errors
  // is empty and lbd's loader accepts the text.
  std::string yaml;
};

// keepalived.conf; `include GLOB` lines are followed (relative to the
// including file's directory). Inputs over 16 MiB in total are refused.
ImportResult ImportKeepalivedFile(const std::string& path);
ImportResult ImportKeepalivedString(std::string_view text, const std::string& file_name);

// `ipvsadm -S -n` / `ipvsadm-save -n` rules; "-" reads stdin.
ImportResult ImportIpvsadmFile(const std::string& path);
ImportResult ImportIpvsadmString(std::string_view text, const std::string& file_name);

// Shared by both converters: renders result.yaml from result.config when
// there are no errors, and re-loads it with LoadConfigString; a rejection
// becomes an error naming `source`.
void FinishImport(ImportResult& result, const std::string& source, const std::string& kind);

}  // namespace lbd

#endif  // LBD_CONF_IMPORT_H_

// Test helper: runs the real lbsim binary (LBSIM_PATH) as a subprocess.
#ifndef LBD_TESTS_LBSIM_LBSIM_RUNNER_H_
#define LBD_TESTS_LBSIM_LBSIM_RUNNER_H_

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace lbd::lbsim_test {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh path under the test's temporary directory.
inline std::string TempPath(const std::string& stem) {
  static int counter = 0;
  return ::testing::TempDir() + "lbsim_" + std::to_string(::getpid()) + "_" +
         std::to_string(counter++) + "_" + stem;
}

// Runs `lbsim ARGS` with `input` written to a file; `input_path` (if not null)
// receives that file's path, and ARGS may name it as {}; with `use_stdin` the
// file is also redirected to standard input.
inline RunResult RunLbsim(const std::string& input, const std::string& args,
                          bool use_stdin = false) {
  const std::string in_path = TempPath("input");
  const std::string out_path = TempPath("out");
  const std::string err_path = TempPath("err");
  {
    std::ofstream f(in_path, std::ios::binary);
    f << input;
  }
  std::string a = args;
  if (size_t p = a.find("{}"); p != std::string::npos) a.replace(p, 2, in_path);
  std::string cmd = std::string(LBSIM_PATH) + " " + a + (use_stdin ? " <" + in_path : "") + " >" +
                    out_path + " 2>" + err_path;
  int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  std::remove(in_path.c_str());
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return r;
}

// `lbsim --replay FILE` on `trace`.
inline RunResult Replay(const std::string& trace, const std::string& extra = "") {
  return RunLbsim(trace, "--replay {} " + extra);
}

}  // namespace lbd::lbsim_test

#endif  // LBD_TESTS_LBSIM_LBSIM_RUNNER_H_

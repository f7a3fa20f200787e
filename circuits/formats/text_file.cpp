#include "circuits/formats/text_file.h"

#include "circuits/formats/error.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace circuitcheck {
namespace {

// `status` when `ec` says nothing or that the path does not exist; else InputError naming the system's reason.
std::filesystem::file_status checked_status(const std::filesystem::file_status& status, const std::error_code& ec,
                                            const std::string& where) {
  check(!ec || status.type() == std::filesystem::file_type::not_found, where, ec.message());
  return status;
}

}  // namespace

std::filesystem::file_status path_status(const std::string& path, const std::string& where) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  return checked_status(status, ec, where);
}

std::string read_text_file(const std::string& path, const std::string& where, std::size_t max_bytes) {
  const auto status = path_status(path, where + ": " + path);
  check(std::filesystem::exists(status), where + ": " + path, "no such file");
  check(std::filesystem::is_regular_file(status), where + ": " + path, "not a regular file");
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  check(!ec && size <= max_bytes, where + ": " + path,
        "larger than " + std::to_string(max_bytes) + " bytes");
  std::ifstream in(path, std::ios::binary);
  check(static_cast<bool>(in), where + ": " + path, "cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void check_replaceable(const std::string& path, const std::string& where) {
  std::error_code ec;
  const auto status = checked_status(std::filesystem::symlink_status(path, ec), ec, where + ": " + path);
  if (!std::filesystem::exists(status)) return;
  check(std::filesystem::is_regular_file(status), where + ": " + path,
        std::string(std::filesystem::is_directory(status) ? "is a folder" : "is not a regular file (a symlink, device or FIFO)") +
            "; refusing to replace it");
}

std::string temporary_path(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp.";
  std::error_code ec;
  for (fs::directory_iterator it(target.has_parent_path() ? target.parent_path() : fs::path("."), ec), end;
       !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::string digits = name.substr(std::min(prefix.size(), name.size()));
    if (name.compare(0, prefix.size(), prefix) != 0 || digits.empty() || digits.size() > 9 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    std::error_code status_error;
    if (pid == ::getpid() || !fs::is_regular_file(fs::symlink_status(it->path(), status_error))) continue;
    if (::kill(pid, 0) != 0 && errno == ESRCH) fs::remove(it->path(), status_error);
  }
  return path + ".tmp." + std::to_string(::getpid());
}

void write_text_atomically(const std::string& path, const std::string& text, const std::string& where) {
  check_replaceable(path, where);
  const std::string temp_path = temporary_path(path);
  std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  std::error_code ec;
  if (out) std::filesystem::rename(temp_path, path, ec);
  if (!out || ec) {
    const std::string why = ec ? "cannot rename " + temp_path + " onto it: " + ec.message()
                               : "cannot write the temporary file " + temp_path;
    std::filesystem::remove(temp_path, ec);
    fail(where + ": " + path, why);
  }
}

}  // namespace circuitcheck

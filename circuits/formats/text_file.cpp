#include "circuits/formats/text_file.h"

#include "circuits/formats/error.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace circuitcheck {

std::string read_text_file(const std::string& path, const std::string& where, std::size_t max_bytes) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  check(!ec && std::filesystem::exists(status), where + ": " + path, "no such file");
  check(std::filesystem::is_regular_file(status), where + ": " + path, "not a regular file");
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
  const auto status = std::filesystem::symlink_status(path, ec);
  if (!std::filesystem::exists(status)) return;
  check(std::filesystem::is_regular_file(status), where + ": " + path,
        std::string(std::filesystem::is_directory(status) ? "is a folder" : "is not a regular file (a symlink, device or FIFO)") +
            "; refusing to replace it");
}

void write_text_atomically(const std::string& path, const std::string& text, const std::string& where) {
  check_replaceable(path, where);
  const std::string temp_path = path + ".tmp." + std::to_string(::getpid());
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

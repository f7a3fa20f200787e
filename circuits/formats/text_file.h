// Whole text files: read at once, written atomically.
#pragma once

#include <filesystem>
#include <string>

namespace circuitcheck {

// The status of `path` (following symlinks), as std::filesystem::status gives
// it, but never a std::filesystem::filesystem_error: a path that does not exist
// (or has a file where a folder should be) has type not_found; any other
// failure (a symlink loop, a name or path longer than the system allows, a
// folder that may not be searched) throws InputError "<where>: <the system's
// reason>" (`where` names the path, e.g. "read_safetensors: <path>").
std::filesystem::file_status path_status(const std::string& path, const std::string& where);

// The bytes of the regular file at `path`. Throws InputError
// "<where>: <path>: ..." when it is missing, not a regular file (a FIFO, a
// folder), larger than `max_bytes`, or cannot be looked up (path_status).
std::string read_text_file(const std::string& path, const std::string& where, std::size_t max_bytes);

// Throws InputError "<where>: <path>: ..." unless `path` may be written by
// replacing it: it is absent or a regular file (not a symlink, a device such
// as /dev/null, a FIFO or a folder, which a rename would replace), and it can
// be looked up (not a name longer than the system allows, no symlink loop in
// its folders).
void check_replaceable(const std::string& path, const std::string& where);

// The temporary file through which this process writes `path`:
// "<path>.tmp.<pid>". First removes the temporaries of `path` that a killed
// run left behind: regular files "<path>.tmp.<digits>" whose process no
// longer exists (kill(pid, 0) gives ESRCH). Temporaries of live processes and
// of other paths are left alone; errors while looking are ignored.
std::string temporary_path(const std::string& path);

// Writes `text` to temporary_path(path) and renames it over `path`, so that
// `path` is either absent, its old content or all of `text`. Throws InputError
// "<where>: <path>: ..." when check_replaceable refuses `path`, or "cannot
// write ..." (the temporary file removed).
void write_text_atomically(const std::string& path, const std::string& text, const std::string& where);

}  // namespace circuitcheck

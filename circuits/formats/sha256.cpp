#include "circuits/formats/sha256.h"

#include "circuits/formats/error.h"
#include "circuits/formats/text_file.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

namespace circuitcheck {
namespace {

constexpr std::size_t block_size = 64;
constexpr std::size_t file_chunk_size = 64 * 1024;

constexpr std::array<std::uint32_t, 64> round_constants = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

constexpr std::array<std::uint32_t, 8> initial_state = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

std::uint32_t load_be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

class Sha256 {
 public:
  void update(const unsigned char* data, std::size_t size) {
    if (size == 0) return;
    total_bytes_ += size;
    if (buffered_ > 0) {
      const std::size_t take = std::min(size, block_size - buffered_);
      std::memcpy(buffer_.data() + buffered_, data, take);
      buffered_ += take;
      data += take;
      size -= take;
      if (buffered_ < block_size) return;
      compress(buffer_.data());
      buffered_ = 0;
    }
    for (; size >= block_size; data += block_size, size -= block_size) compress(data);
    if (size > 0) std::memcpy(buffer_.data(), data, size);
    buffered_ = size;
  }

  std::string finish_hex() {
    const std::uint64_t bit_length = total_bytes_ * 8;
    std::array<unsigned char, block_size + 8> padding{};
    padding[0] = 0x80;
    const std::size_t pad_size = buffered_ < 56 ? 56 - buffered_ : 120 - buffered_;
    for (int i = 0; i < 8; ++i) padding[pad_size + i] = static_cast<unsigned char>(bit_length >> (56 - 8 * i));
    update(padding.data(), pad_size + 8);

    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    for (std::uint32_t word : state_) {
      for (int shift = 28; shift >= 0; shift -= 4) hex += digits[(word >> shift) & 0xf];
    }
    return hex;
  }

 private:
  void compress(const unsigned char* block) {
    std::array<std::uint32_t, 64> w;
    for (std::size_t t = 0; t < 16; ++t) w[t] = load_be32(block + 4 * t);
    for (std::size_t t = 16; t < 64; ++t) {
      const std::uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      const std::uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    auto [a, b, c, d, e, f, g, h] = state_;
    for (std::size_t t = 0; t < 64; ++t) {
      const std::uint32_t big_sigma1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const std::uint32_t choose = (e & f) ^ (~e & g);
      const std::uint32_t t1 = h + big_sigma1 + choose + round_constants[t] + w[t];
      const std::uint32_t big_sigma0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      const std::uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
      const std::uint32_t t2 = big_sigma0 + majority;
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    const std::array<std::uint32_t, 8> working = {a, b, c, d, e, f, g, h};
    for (std::size_t i = 0; i < 8; ++i) state_[i] += working[i];
  }

  std::array<std::uint32_t, 8> state_ = initial_state;
  std::array<unsigned char, block_size> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

}  // namespace

std::string sha256_hex(const void* data, std::size_t size) {
  Sha256 hash;
  hash.update(static_cast<const unsigned char*>(data), size);
  return hash.finish_hex();
}

std::string sha256_hex(const std::string& bytes) { return sha256_hex(bytes.data(), bytes.size()); }

std::string sha256_file(const std::string& path) {
  const std::string where = "sha256_file: " + path;
  const auto status = path_status(path, where + ": file");
  check(std::filesystem::exists(status), where, "file: does not exist");
  check(!std::filesystem::is_directory(status), where, "file: is a directory");
  std::ifstream in(path, std::ios::binary);
  check(in.is_open(), where, "file: cannot open");
  Sha256 hash;
  std::vector<char> chunk(file_chunk_size);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    hash.update(reinterpret_cast<const unsigned char*>(chunk.data()), static_cast<std::size_t>(in.gcount()));
  }
  check(!in.bad(), where, "file: read error");
  return hash.finish_hex();
}

}  // namespace circuitcheck

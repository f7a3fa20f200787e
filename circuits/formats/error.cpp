#include "circuits/formats/error.h"

namespace circuitcheck {

void fail(const std::string& where, const std::string& what) {
  throw InputError(where + ": " + what);
}

}  // namespace circuitcheck

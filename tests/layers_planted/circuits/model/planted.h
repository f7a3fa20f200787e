// A model-layer header that includes the claims layer: tests/layers.cmake must
// refuse it (ctest layers/an_upward_include_fails).
#pragma once
#include "circuits/model/config.h"
#include "circuits/claims/claim.h"

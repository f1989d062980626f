// The core part: errors, logging, progress bars, seeds and file helpers that every other part uses.
#pragma once

#include "core/error.h"
#include "core/files.h"
#include "core/logging.h"
#include "core/progress.h"
#include "core/rng.h"

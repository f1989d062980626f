// The core part that every other part uses: errors, logging, progress bars, seeds, file helpers and the machine's memory.
#pragma once

#include "core/error.h"
#include "core/files.h"
#include "core/logging.h"
#include "core/machine.h"
#include "core/progress.h"
#include "core/rng.h"

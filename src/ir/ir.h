// The ir part: graph, tensors, op list with shape inference and reference kernels, the reference executor.
#pragma once

#include "ir/dtype.h"
#include "ir/executor.h"
#include "ir/graph.h"
#include "ir/op.h"
#include "ir/tensor.h"

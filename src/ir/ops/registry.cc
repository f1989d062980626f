// Maps each OpKind to its schema. Every kind in ops.def must define k<Kind>Schema in one of src/ir/ops/*.cc;
// a missing one is a link error and a wrong count a compile error.
#include <array>

#include "ir/ops/schema.h"

namespace nacc {

#define NACC_OP(kind, onnx_name) extern const OpSchema k##kind##Schema;
#include "ir/ops.def"
#undef NACC_OP

namespace {

const std::array<const OpSchema*, kOpKindCount> kSchemas = {
#define NACC_OP(kind, onnx_name) &k##kind##Schema,
#include "ir/ops.def"
#undef NACC_OP
};

static_assert(kSchemas.size() == static_cast<size_t>(kOpKindCount), "one schema per op kind in ops.def");

}  // namespace

const OpSchema& op_schema(OpKind op) {
  const OpSchema* schema = kSchemas[static_cast<size_t>(op)];
  NACC_CHECK(schema->kind == op, "schema for {} registered under another kind", op_name(op));
  return *schema;
}

}  // namespace nacc

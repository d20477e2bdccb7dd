# lit configuration for llmc's FileCheck tests (test/**/*.mlir, *.test).
import os
import lit.formats

config.name = "llmc"
config.test_format = lit.formats.ShTest(not lit_config.isWindows)
config.suffixes = [".mlir", ".test"]
config.excludes = ["unit", "fixtures", "lit.cfg.py", "lit.site.cfg.py", "CMakeLists.txt", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.llmc_obj_root, "test")

# Tools: ours first, then LLVM's (FileCheck, not, count).
config.environment["PATH"] = os.pathsep.join(
    [config.llmc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
# Tests see the host unless they cap it themselves.
config.environment.pop("LLMC_MAX_ISA", None)
for var in ("HOME", "TMPDIR"):
    if var in os.environ:
        config.environment[var] = os.environ[var]

config.substitutions.append(("%python", config.python))
config.substitutions.append(("%fixtures", os.path.join(config.llmc_src_root, "test", "fixtures")))
config.substitutions.append(("%shared", config.shared_dir))
config.substitutions.append(("%llmc_src", config.llmc_src_root))

if os.path.isdir(os.path.join(config.shared_dir, "models", "stories260K")):
    config.available_features.add("stories260k")

# Host CPU features that decide which kernel path a test can expect.
try:
    with open("/proc/cpuinfo") as f:
        flags = next((l.split(":", 1)[1].split() for l in f if l.startswith("flags")), [])
except OSError:
    flags = []
if "avx512_bf16" in flags:
    config.available_features.add("avx512-bf16")
# The AMX kernels run natively (amx_int8) or with the scalar tile model,
# which needs the AVX512_VNNI kernels beside it.
if "avx512_vnni" in flags or "amx_int8" in flags:
    config.available_features.add("amx-or-model")

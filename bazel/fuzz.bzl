"""cc_fuzz_test: a libFuzzer target that is also a corpus regression test.

With --config=fuzz the binary `name` links libFuzzer (run it on a corpus
directory to fuzz). Otherwise it links a small driver that feeds every file of
the seed corpus to LLVMFuzzerTestOneInput, and `name` runs as a test.
"""

load("//bazel:copts.bzl", "COPTS")

def cc_fuzz_test(name, srcs, corpus, deps = [], **kwargs):
    native.cc_test(
        name = name,
        srcs = srcs,
        copts = COPTS,
        deps = deps + select({
            "//bazel:fuzz": [],
            "//conditions:default": ["//bazel:fuzz_replay_main"],
        }),
        linkopts = select({
            "//bazel:fuzz": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        args = ["$(locations %s)" % corpus],
        data = [corpus],
        **kwargs
    )

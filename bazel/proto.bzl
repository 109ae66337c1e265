"""cc_grpc_proto: one line turns a .proto into a cc_library.

Runs Debian's protoc and grpc_cpp_plugin in a genrule, so the build needs no
downloaded protobuf rules. Generated code is compiled without warnings.
"""

def cc_grpc_proto(name, src, deps = [], grpc = True, visibility = None):
    """Declares `name` (cc_library) and `name_files` (the .proto closure).

    Args:
      name: the cc_library's name.
      src: one .proto file in this package.
      deps: other cc_grpc_proto targets that `src` imports.
      grpc: whether the .proto declares services to generate stubs for.
      visibility: as for any rule.
    """
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc"]
    cmd = "protoc -I. --cpp_out=$(GENDIR) "
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
        cmd += "--grpc_out=$(GENDIR) --plugin=protoc-gen-grpc=$$(command -v grpc_cpp_plugin) "
    cmd += "$(location %s)" % src

    native.filegroup(
        name = name + "_files",
        srcs = [src] + [d + "_files" for d in deps],
        visibility = visibility,
    )
    native.genrule(
        name = name + "_gen",
        srcs = [src, name + "_files"],
        outs = outs,
        cmd = cmd,
        message = "protoc " + src,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        # Generated code is not ours to fix: keep its warnings (GCC 12 has
        # false positives in protobuf's copy constructors) out of the log.
        copts = ["-w"],
        deps = deps + ["//third_party:protobuf"] + (["//third_party:grpc"] if grpc else []),
        visibility = visibility,
    )

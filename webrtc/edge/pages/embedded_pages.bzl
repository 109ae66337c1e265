"""embedded_pages: browser pages compiled into a binary (relayd's, topologyd's console)."""

load("//bazel:copts.bzl", "COPTS")

def embedded_pages(name, pages, header, namespace, visibility = None):
    """A cc_library `name` with FindPage() over `pages`.

    Args:
      name: the library.
      pages: {file: [URL path, ...]}, each file served at its paths.
      header: the library's header, declaring `Page` and `FindPage` in `namespace`.
      namespace: the C++ namespace of `header`.
      visibility: the library's.
    """
    native.genrule(
        name = name + "_table",
        srcs = pages.keys(),
        outs = [name + "_table.cc"],
        cmd = "$(location //webrtc/edge/pages:embed_pages) $@ %s %s " % (header, namespace) + " ".join([
            "%s=$(location %s)" % (",".join(paths), file)
            for file, paths in pages.items()
        ]),
        tools = ["//webrtc/edge/pages:embed_pages"],
        visibility = ["//visibility:private"],
    )
    native.cc_library(
        name = name,
        srcs = [name + "_table.cc"],
        hdrs = [header.split("/")[-1]],
        copts = COPTS,
        deps = ["//third_party:absl"],
        visibility = visibility,
    )

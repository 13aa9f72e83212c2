# SPDX-License-Identifier: BSD-2-Clause
"""Caffe prototxt text: fields as (key, value) lists, a value a scalar or a nested field list."""


class Enum(str):
    """An enum value: written unquoted."""


def fmt_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Enum):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, float):
        return repr(v)
    return str(v)


def fmt_fields(fields, indent):
    """fields: list of (key, value); value a scalar or a nested list of fields."""
    out = []
    pad = "  " * indent
    for key, value in fields:
        if isinstance(value, list):
            out.append(f"{pad}{key} {{")
            out.extend(fmt_fields(value, indent + 1))
            out.append(f"{pad}}}")
        else:
            out.append(f"{pad}{key}: {fmt_value(value)}")
    return out


class NetWriter:
    """A NetParameter under construction: its name and its layers, each a list of fields."""

    def __init__(self, name):
        self.name = name
        self.layers = []

    def add(self, name, type_, bottoms, tops, *body, phase=None):
        """Appends a layer; returns its first top, the blob the next layer usually reads."""
        f = [("name", name), ("type", type_)]
        f += [("bottom", b) for b in bottoms]
        f += [("top", t) for t in tops]
        if phase:
            f.append(("include", [("phase", Enum(phase))]))
        f += list(body)
        self.layers.append(f)
        return tops[0] if tops else None

    def text(self, header):
        lines = ["# " + h for h in header]
        lines.append(f"name: {fmt_value(self.name)}")
        for layer in self.layers:
            lines.extend(fmt_fields([("layer", layer)], 0))
        return "\n".join(lines) + "\n"

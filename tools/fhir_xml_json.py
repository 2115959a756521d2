#!/usr/bin/env python3
"""tools/fhir_xml_json.py — FHIR R4 XML -> FHIR JSON, driven by the type model of data/types.tsv.

Shared by the test-data generators tools/gen_fhirpath_tests.py and tools/gen_fhir_patch_tests.py.

The conversion follows the FHIR JSON rules (https://hl7.org/fhir/R4/json.html) with the R4 type
model of data/types.tsv (tools/gen_types.py): an element is an array exactly when its definition
repeats (max != 1); a primitive's `value` attribute becomes a JSON boolean / number / string by
its type, its id and extensions go to `_name` (aligned with null in arrays); choice elements keep
their type suffix (valueDate); `resource` and `contained` hold a nested resource; an xhtml `div`
becomes the XHTML text (namespace on the root div, element names without prefix).  Comments are
dropped.  Numbers keep their exact text (decimal.Decimal; write them with dumps() below, which
prints them verbatim, so "1.50" stays 1.50).  Content references (`#Questionnaire.item`) are
followed through the backbone types the table names by path.
Python standard library only (xml.etree.ElementTree).
"""
import decimal
import json
import xml.etree.ElementTree as ET

FHIR_NS = "{http://hl7.org/fhir}"
XHTML_NS = "{http://www.w3.org/1999/xhtml}"


def load_types(path):
    prims = {}   # primitive name -> json kind (boolean | number | string)
    types = {}   # type name -> {"kind": ..., "elements": [(name, max, [types], choice)]}
    cur = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            c = line.rstrip("\n").split("\t")
            if c[0] == "P":
                prims[c[1]] = c[2]
            elif c[0] == "T":
                cur = {"kind": c[2], "elements": []}
                types[c[1]] = cur
            elif c[0] == "E" and cur is not None:
                # "Reference(Patient|Group)": targets are "|"-separated, types ","-separated
                tnames = [t.split("(")[0] for t in c[4].split(",") if t]
                cur["elements"].append((c[1], c[3], tnames, "C" in c[5]))
    return prims, types


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Converter:
    def __init__(self, prims, types):
        self.prims = prims
        self.types = types

    @classmethod
    def from_table(cls, types_path):
        return cls(*load_types(types_path))

    def local(self, tag):
        return tag.split("}", 1)[1] if tag.startswith("{") else tag

    def element_def(self, tname, name):
        """(json name, child type, repeats) of child element `name` of type `tname`."""
        t = self.types.get(tname)
        if t is None:
            raise ValueError("unknown type " + tname)
        for (ename, emax, etypes, choice) in t["elements"]:
            if not choice and ename == name:
                et = etypes[0] if etypes else tname + "." + name
                if et.startswith("#"):
                    et = et[1:]
                return name, et, emax != "1"
            if choice and name.startswith(ename) and len(name) > len(ename):
                suffix = name[len(ename):]
                for et in etypes:
                    if et[0].upper() + et[1:] == suffix:
                        return name, et, emax != "1"
        raise ValueError("'%s' is not an element of %s" % (name, tname))

    def xhtml(self, el, root=True):
        name = self.local(el.tag)
        attrs = ""
        if root:
            attrs += ' xmlns="http://www.w3.org/1999/xhtml"'
        for k, v in el.attrib.items():
            attrs += ' %s="%s"' % (self.local(k), v.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;"))
        out = "<" + name + attrs + ">"
        out += esc(el.text or "")
        for ch in el:
            if isinstance(ch.tag, str):
                out += self.xhtml(ch, False)
            out += esc(ch.tail or "")
        return out + "</" + name + ">"

    def primitive(self, tname, text):
        kind = self.prims.get(tname, "string")
        if kind == "boolean":
            return text == "true"
        if kind == "number":
            return decimal.Decimal(text.strip())
        return text

    def resource(self, el):
        rt = self.local(el.tag)
        out = {"resourceType": rt}
        if el.get("id") is not None:  # never on resources, but harmless
            out["id"] = el.get("id")
        self.children(el, rt, out)
        return out

    def children(self, el, tname, out):
        prim_ext = {}
        for ch in el:
            if not isinstance(ch.tag, str):  # comments
                continue
            name = self.local(ch.tag)
            jname, ctype, repeats = self.element_def(tname, name)
            ext = None
            if ctype == "xhtml":
                value = self.xhtml(ch)
            elif ctype in ("Resource",) or self.types.get(ctype, {}).get("kind") == "resource":
                inner = [x for x in ch if isinstance(x.tag, str)]
                value = self.resource(inner[0])
            elif self.types.get(ctype, {}).get("kind") == "primitive":
                value = self.primitive(ctype, ch.get("value")) if ch.get("value") is not None else None
                e = {}
                if ch.get("id") is not None:
                    e["id"] = ch.get("id")
                self.children(ch, "Element", e)
                ext = e or None
            else:
                value = {}
                for k in ("id", "url"):
                    if ch.get(k) is not None:
                        value[k] = ch.get(k)
                self.children(ch, ctype, value)
            if repeats:
                out.setdefault(jname, []).append(value)
                prim_ext.setdefault(jname, []).append(ext)
            else:
                if value is not None:
                    out[jname] = value
                if ext is not None:
                    out["_" + jname] = ext
        for jname, exts in prim_ext.items():
            if any(x is not None for x in exts):
                out["_" + jname] = exts
            if all(v is None for v in out[jname]):
                del out[jname]


def convert_file(path, types_path):
    conv = Converter.from_table(types_path)
    return conv.resource(ET.parse(path).getroot())


def loads(text):
    """JSON with numbers kept exactly (decimal.Decimal)."""
    return json.loads(text, parse_float=decimal.Decimal, parse_int=decimal.Decimal)


def dumps(v, indent=1, level=0):
    """json.dumps with Decimal numbers written verbatim."""
    pad = "\n" + " " * (indent * (level + 1))
    end = "\n" + " " * (indent * level)
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, list):
        if not v:
            return "[]"
        return "[" + ",".join(pad + dumps(x, indent, level + 1) for x in v) + end + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{" + ",".join(pad + json.dumps(k, ensure_ascii=False) + ": " + dumps(x, indent, level + 1)
                              for k, x in v.items()) + end + "}"
    raise TypeError(type(v))

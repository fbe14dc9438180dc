"""What the integration tests check of a finished recording: imported by their Python parts
(sys.path gets tests/liverec). An HLS recording conforms to RFC 8216 (hls_check.py) and every
segment decodes on its own; any other file decodes. Problems are returned as strings."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def segments(playlist):
    """The files a playlist lists, as paths beside it."""
    with open(playlist) as f:
        return [os.path.join(os.path.dirname(playlist), l.strip()) for l in f
                if l.strip() and not l.startswith("#")]


def decodes(ffmpeg, path):
    """'' if every packet of path decodes (ffmpeg -xerror), else what ffmpeg said."""
    r = subprocess.run([ffmpeg, "-v", "error", "-xerror", "-i", path, "-f", "null", "-"],
                       capture_output=True, text=True)
    return "" if not r.returncode else "%s does not decode: %s" % (path, r.stderr.strip()[:300])


def problems(ffmpeg, fmt, path):
    """What is wrong with the recording at path (format fmt: hls, mp4, flv, aac)."""
    found = []
    files = [path]
    if fmt == "hls":
        r = subprocess.run([sys.executable, os.path.join(HERE, "hls_check.py"), "--vod",
                            "--files", path], capture_output=True, text=True)
        if r.returncode:
            found.append(r.stderr.strip())
        # segment by segment: the TS demuxer behind ffmpeg's HLS reader does not start over at
        # EXT-X-DISCONTINUITY, as players do (the continuity counters of the next process's
        # segments would count as damage)
        files = segments(path)
    found += [p for p in (decodes(ffmpeg, f) for f in files) if p]
    return found


def callback_problems(jsonl, urls):
    """Each of urls (the catalogued recordings' URLs) announced by exactly one file callback
    (event_type 100) in the callback receiver's jsonl, and no callback for anything else."""
    seen = {}
    with open(jsonl) as f:
        for line in f:
            b = json.loads(line)["body"]
            if b.get("event_type") == 100:
                seen[b["video_url"]] = seen.get(b["video_url"], 0) + 1
    found = ["%d callbacks for %s" % (n, u) for u, n in seen.items() if n > 1]
    found += ["a callback for a file the catalog does not list: %s" % u for u in seen if u not in urls]
    found += ["no callback for %s" % u for u in urls if u not in seen]
    return found


class Report:
    """Problems printed as they are found; ok stays True while there is none."""
    def __init__(self):
        self.ok = True

    def fail(self, msg):
        self.ok = False
        print("FAIL: " + msg, file=sys.stderr)

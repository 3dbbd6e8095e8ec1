#!/usr/bin/env python3
"""An external parser for newscrawl's `command` parser, in plain Python (stdlib only).

newscrawl starts it once and keeps it running. For every page it writes one JSON
request line on stdin: {"url", "kind", "headers", "body"}. This program answers one
JSON line on stdout: {"links": [...], "records": [...]} (record fields as in the
JSONL output, all optional), or {"error": "..."}. Anything printed on stderr ends up
in newscrawl's log.

Config:
    [[site]]
    parser = "command"
    [site.command]
    program = "python3"
    args = ["examples/parser.py"]
    timeout = "10s"
"""

import json
import sys
from html.parser import HTMLParser
from urllib.parse import urljoin


class Page(HTMLParser):
    """Collects links, the first <h1>, <p> text inside <article>, and meta tags."""

    def __init__(self, url):
        super().__init__(convert_charrefs=True)
        self.url = url
        self.links = []
        self.meta = {}
        self.title = None
        self.paragraphs = []
        self._in_h1 = False
        self._in_p = False
        self._article_depth = 0
        self._text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("a", "area") and attrs.get("href"):
            self.links.append(urljoin(self.url, attrs["href"].strip()))
        elif tag == "meta" and attrs.get("content"):
            key = attrs.get("property") or attrs.get("name")
            if key:
                self.meta[key.lower()] = attrs["content"]
        elif tag == "article":
            self._article_depth += 1
        elif tag == "h1" and self.title is None:
            self._in_h1, self._text = True, []
        elif tag == "p" and self._article_depth:
            self._in_p, self._text = True, []

    def handle_endtag(self, tag):
        if tag == "article" and self._article_depth:
            self._article_depth -= 1
        elif tag == "h1" and self._in_h1:
            self._in_h1 = False
            self.title = " ".join("".join(self._text).split()) or None
        elif tag == "p" and self._in_p:
            self._in_p = False
            text = " ".join("".join(self._text).split())
            if text:
                self.paragraphs.append(text)

    def handle_data(self, data):
        if self._in_h1 or self._in_p:
            self._text.append(data)


def answer(request):
    page = Page(request["url"])
    page.feed(request["body"])
    page.close()
    records = []
    if request["kind"] == "article":
        records.append({
            "title": page.title or page.meta.get("og:title"),
            "deck": page.meta.get("og:description"),
            "published": page.meta.get("article:published_time"),
            "body": "\n\n".join(page.paragraphs),
        })
    return {"links": page.links, "records": records}


def main():
    for line in sys.stdin:
        try:
            reply = answer(json.loads(line))
        except Exception as e:  # one bad page must not end the program
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the extraction corpus: article pages in the markup of common news CMSs,
each with the values a reader would call the article (expected JSON beside it).

The markup of each family is written here by hand after the public structure of the
CMS or site type it is named for (class names, nesting, where the date and byline
sit, the boxes around the story); the stories are invented. Re-run after editing:
    python3 tests/extraction/generate.py
The pages are committed, so tests and `newscrawl eval` do not need Python.
"""
import html
import json
import os
import random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pages")

SENTENCES = [
    "The council voted seven to two on Tuesday to extend the pilot program through the end of next year.",
    "Officials said the decision followed months of public hearings, some of which ran past midnight.",
    "\"We heard the residents loud and clear,\" said the committee chair, who asked that the vote be delayed twice.",
    "Critics argued that the budget, which grew by nearly a third, had never been independently audited.",
    "Ridership on the northern line fell by 12 percent last spring, according to figures released by the agency.",
    "The ministry did not respond to repeated requests for comment on Wednesday.",
    "Analysts expect the central bank to hold rates steady at its next meeting, citing slowing inflation.",
    "Farmers in the valley say the late frost destroyed as much as half of this year's apple harvest.",
    "The company's shares rose 4.2 percent in early trading before giving back most of the gain.",
    "Local schools will reopen on Monday, two weeks later than planned, after repairs to heating systems.",
    "Researchers at the university tracked more than 3,000 patients over a decade to reach their conclusion.",
    "The striker scored twice in the second half, lifting the club out of the relegation zone for the first time since August.",
    "Police said no one was injured in the fire, which started in a storage room shortly after 2 a.m.",
    "Volunteers handed out more than 8,000 meals over the holiday weekend, organizers said.",
    "The festival, now in its 27th year, expects about 40,000 visitors across four days.",
    "Negotiators described the talks as constructive but acknowledged that key differences remain.",
    "The bridge, built in 1961, carries about 60,000 vehicles a day and has been on a watch list since 2015.",
    "Several residents said they learned of the closure only when barriers appeared on their street.",
    "The report recommends hiring 150 additional inspectors and publishing results online every quarter.",
    "In a statement, the union said its members would not return to work until the safety concerns were addressed.",
    "Tourism officials hope the new direct flights will bring more visitors during the quiet winter months.",
    "The museum plans to digitize its entire collection of maps, some dating back to the 16th century.",
    "Prosecutors allege the scheme diverted more than $2 million from a fund meant for flood victims.",
    "The coach said the team had prepared for the heat by training in the afternoon for most of the week.",
    "Water levels in the reservoir are at their lowest point in two decades, the utility warned.",
    "Hospital administrators said emergency room waits had fallen by an average of 40 minutes since the change.",
    "The author, whose first novel was rejected by 14 publishers, now has more than a million copies in print.",
    "Shopkeepers along the avenue said the construction had cut their sales by half since the spring.",
    "The agency said it would review its procedures after the error delayed benefits for thousands of families.",
    "Engineers found cracks in three of the support beams during a routine inspection in March.",
]
WORDS = ["Harbor", "City", "Regional", "Transit", "Valley", "Council", "Budget", "Coastal", "Schools",
         "Museum", "Union", "Farmers", "Bridge", "Festival", "Reservoir", "Hospital", "Startup", "Court"]
VERBS = ["approves", "delays", "rejects", "expands", "reviews", "weighs", "halts", "backs", "questions", "launches"]
OBJECTS = ["late-night bus plan", "new tax on tourists", "bridge repair contract", "school lunch program",
           "water restrictions", "housing subsidy", "stadium lease", "flood barrier project", "library hours",
           "bike lane network"]
NAMES = ["Maria Okafor", "Daniel Brenner", "Soo-jin Park", "Tomás Alvarez", "Priya Raman", "Henrik Lund",
         "Amara Diallo", "Kenji Watanabe", "Claire Dubois", "Owen Fitzgerald", "Leila Haddad", "Marcus Webb"]
SUBHEADS = ["What happens next", "A long road", "Money questions", "Residents react", "Behind the numbers"]
ZONES = [("-05:00", "EST"), ("+00:00", "GMT"), ("+09:00", "KST"), ("+01:00", "CET"), ("-08:00", "PST")]

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


def story(n):
    rng = random.Random(n * 7919)
    title = f"{rng.choice(WORDS)} {rng.choice(WORDS).lower()} board {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    authors = rng.sample(NAMES, 1 if n % 3 else 2)
    count = rng.randint(5, 14)
    paragraphs = [" ".join(rng.sample(SENTENCES, rng.randint(1, 3))) for _ in range(count)]
    subhead = None
    if n % 4 == 1:
        subhead = (count // 2, rng.choice(SUBHEADS))
    zone = ZONES[n % len(ZONES)]
    year, month, day = 2023 + n % 3, 1 + n % 12, 1 + (n * 3) % 27
    hour, minute = 6 + n % 14, (n * 7) % 60
    iso = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00{zone[0]}"
    return {
        "n": n, "title": title, "authors": authors, "paragraphs": paragraphs, "subhead": subhead,
        "deck": f"{title.split(' board ')[0]} officials say the change could take effect within months.",
        "iso": iso, "zone": zone, "ymd": (year, month, day), "hm": (hour, minute),
        "section": rng.choice(["Politics", "Business", "Local", "Sports", "Culture"]),
        "caption": f"Residents gather outside the hall before the vote. Photo by {rng.choice(NAMES)}",
    }


def e(text):
    return html.escape(text, quote=True)


def body_blocks(s, para, sub):
    """The story's paragraphs (and subhead) rendered by `para`/`sub`."""
    out = []
    for i, p in enumerate(s["paragraphs"]):
        if s["subhead"] and s["subhead"][0] == i:
            out.append(sub(s["subhead"][1]))
        out.append(para(p))
    return "\n".join(out)


def expected_body(s):
    parts = []
    for i, p in enumerate(s["paragraphs"]):
        if s["subhead"] and s["subhead"][0] == i:
            parts.append(s["subhead"][1])
        parts.append(p)
    return "\n\n".join(parts)


def related(n, prefix="/news/"):
    rng = random.Random(n)
    return "\n".join(
        f'<li><a href="{prefix}{1000 + rng.randint(1, 999)}">{e(story(n + k + 50)["title"])}</a></li>'
        for k in range(6))


def nav():
    items = "".join(f'<li><a href="/{w.lower()}">{w}</a></li>' for w in
                    ["News", "Politics", "Business", "Sports", "Culture", "Opinion", "Video", "Podcasts"])
    return f'<nav class="site-nav"><ul>{items}</ul></nav>'


def footer(site):
    return (f'<footer class="site-footer"><p>&copy; 2024 {site}. All rights reserved.</p>'
            '<ul><li><a href="/about">About</a></li><li><a href="/privacy">Privacy</a></li>'
            '<li><a href="/terms">Terms of use</a></li><li><a href="/contact">Contact us</a></li></ul></footer>')


def jsonld(s, site, with_author=True):
    data = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": s["title"],
            "datePublished": s["iso"], "publisher": {"@type": "Organization", "name": site}}
    if with_author:
        data["author"] = [{"@type": "Person", "name": a} for a in s["authors"]]
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def human_date(s):
    y, m, d = s["ymd"]
    h, mi = s["hm"]
    ampm = "a.m." if h < 12 else "p.m."
    return f"{MONTHS[m - 1]} {d}, {y} at {h % 12 or 12}:{mi:02d} {ampm} {s['zone'][1]}"


def byline(s):
    return " and ".join(s["authors"])


# --- CMS families -------------------------------------------------------------------

def wordpress_classic(s):
    site = "The Valley Ledger"
    return f"""<!DOCTYPE html><html lang="en-US"><head><meta charset="UTF-8">
<title>{e(s['title'])} &#8211; {site}</title>
<meta property="og:type" content="article"><meta property="og:title" content="{e(s['title'])}">
<meta property="article:published_time" content="{s['iso']}">
<link rel="stylesheet" href="/wp-content/themes/ledger/style.css"></head>
<body class="post-template-default single single-post">
<div id="page" class="site"><header id="masthead" class="site-header"><p class="site-title"><a href="/">{site}</a></p>{nav()}</header>
<div id="content" class="site-content"><div id="primary" class="content-area"><main id="main" class="site-main">
<article id="post-{s['n']}" class="post-{s['n']} post type-post status-publish">
<header class="entry-header"><span class="cat-links"><a href="/category/{s['section'].lower()}" rel="category tag">{s['section']}</a></span>
<h1 class="entry-title">{e(s['title'])}</h1>
<div class="entry-meta"><span class="posted-on">Posted on <time class="entry-date published" datetime="{s['iso']}">{human_date(s)}</time></span>
<span class="byline"> by <span class="author vcard"><a class="url fn n" href="/author/x">{e(byline(s))}</a></span></span></div></header>
<div class="entry-content">
<figure class="wp-caption"><img src="/wp-content/uploads/photo-{s['n']}.jpg" alt=""><figcaption class="wp-caption-text">{e(s['caption'])}</figcaption></figure>
{body_blocks(s, lambda p: f"<p>{e(p)}</p>", lambda h: f"<h2>{e(h)}</h2>")}
<div class="sharedaddy sd-sharing-enabled"><h3 class="sd-title">Share this:</h3><ul><li><a href="https://twitter.com/share">Twitter</a></li><li><a href="https://facebook.com/sharer">Facebook</a></li></ul></div>
</div>
<footer class="entry-footer"><span class="tags-links">Tagged <a href="/tag/council">council</a>, <a href="/tag/budget">budget</a></span></footer>
</article>
<nav class="navigation post-navigation"><div class="nav-links"><a href="/prev">Previous post: {e(story(s['n'] + 1)['title'])}</a></div></nav>
<div id="comments" class="comments-area"><h2 class="comments-title">3 thoughts on &ldquo;{e(s['title'])}&rdquo;</h2>
<ol class="comment-list"><li class="comment"><div class="comment-content"><p>This is the third time they have changed the plan this year and nobody has explained why.</p></div></li>
<li class="comment"><div class="comment-content"><p>Finally some good news for the people who actually use the service every single day.</p></div></li></ol></div>
</main></div>
<aside id="secondary" class="widget-area"><section class="widget widget_recent_entries"><h2 class="widget-title">Recent Posts</h2><ul>{related(s['n'], '/20')}</ul></section></aside>
</div>{footer(site)}</div></body></html>"""


def wordpress_gutenberg(s):
    site = "Northside Chronicle"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(s['title'])} | {site}</title>
<meta name="author" content="{e(byline(s))}">
{jsonld(s, site)}
</head><body class="wp-singular post-template">
<div class="wp-site-blocks"><header class="wp-block-template-part">{nav()}</header>
<main class="wp-block-group">
<div class="wp-block-group alignwide"><h1 class="wp-block-post-title">{e(s['title'])}</h1>
<div class="wp-block-post-date"><time datetime="{s['iso']}">{human_date(s)}</time></div>
<div class="wp-block-post-author"><div class="wp-block-post-author__content"><p class="wp-block-post-author__name">{e(byline(s))}</p></div></div></div>
<div class="entry-content wp-block-post-content is-layout-constrained">
<p class="has-large-font-size">{e(s['deck'])}</p>
{body_blocks(s, lambda p: f'<p class="wp-block-paragraph">{e(p)}</p>', lambda h: f'<h2 class="wp-block-heading">{e(h)}</h2>')}
<figure class="wp-block-image size-large"><img src="/img/{s['n']}.jpg" alt="{e(s['caption'])}"><figcaption class="wp-element-caption">{e(s['caption'])}</figcaption></figure>
<div class="wp-block-group newsletter-signup"><h3>Get the Chronicle in your inbox</h3><p>Sign up for our free morning newsletter and never miss a story from your neighborhood.</p><form><input type="email"><button>Subscribe</button></form></div>
</div>
<div class="wp-block-group related-posts"><h2>More from Northside</h2><ul class="wp-block-latest-posts">{related(s['n'])}</ul></div>
</main>{footer(site)}</div></body></html>"""


def arc_xp(s):
    site = "Metro Daily Post"
    blocks = body_blocks(
        s,
        lambda p: f'<div class="article-body-wrapper"><p class="article-body-text" data-el="text" dir="null">{e(p)}</p></div>',
        lambda h: f'<h2 class="article-subheadline" data-el="subheadline">{e(h)}</h2>')
    paras = blocks.split("\n")
    mid = len(paras) // 2
    ad = '<div class="ad-unit" data-qa="ad"><p class="ad-label">Advertisement</p></div>'
    interstitial = f'<div class="interstitial-link"><p><a href="/story/{s["n"] + 7}">Read more: {e(story(s["n"] + 7)["title"])}</a></p></div>'
    blocks = "\n".join(paras[:mid] + [ad, interstitial] + paras[mid:])
    return f"""<!DOCTYPE html><html lang="en"><head><title>{e(s['title'])} - {site}</title>
<meta property="og:title" content="{e(s['title'])}"><meta property="og:type" content="article">
<meta name="description" content="{e(s['deck'])}">
{jsonld(s, site)}</head><body>
<div id="fusion-app"><header class="masthead">{nav()}<div class="trending"><span>Trending:</span><a href="/t/1">Election</a><a href="/t/2">Weather</a></div></header>
<main><article class="b-article-body" data-qa="article">
<div class="overline"><a href="/{s['section'].lower()}/">{s['section']}</a></div>
<h1 class="headline" data-qa="headline">{e(s['title'])}</h1>
<h2 class="subheadline" data-qa="subheadline">{e(s['deck'])}</h2>
<div class="byline-container" data-qa="byline"><span>By </span>{' and '.join(f'<a class="author-name" href="/people/{a.split()[0].lower()}">{e(a)}</a>' for a in s['authors'])}</div>
<div class="timestamp" data-qa="timestamp"><span>Published {human_date(s)}</span></div>
<figure class="lead-art"><img src="https://cloudfront.example/{s['n']}.jpg" alt=""><figcaption><span class="caption">{e(s['caption'])}</span></figcaption></figure>
<div class="article-body" data-qa="article-body">
{blocks}
</div>
<div class="author-bio"><p>{e(s['authors'][0])} covers city hall for the Post. She previously reported from the statehouse.</p></div>
</article>
<aside class="right-rail"><h3>Most Read</h3><ol>{related(s['n'])}</ol></aside></main>
{footer(site)}</div></body></html>"""


def drupal(s):
    site = "County Gazette"
    return f"""<!DOCTYPE html><html lang="en" dir="ltr"><head><meta charset="utf-8">
<title>{e(s['title'])} | {site}</title>
<meta name="dcterms.date" content="{s['iso']}">
<meta property="og:title" content="{e(s['title'])} | {site}"></head>
<body class="path-node page-node-type-article">
<div class="dialog-off-canvas-main-canvas"><header role="banner">{nav()}</header>
<div class="layout-container"><nav class="breadcrumb" aria-labelledby="system-breadcrumb"><ol><li><a href="/">Home</a></li><li><a href="/news">News</a></li></ol></nav>
<main role="main"><div class="region region-content">
<article role="article" class="node node--type-article node--view-mode-full">
<h1 class="page-title"><span class="field field--name-title">{e(s['title'])}</span></h1>
<div class="node__meta"><span class="field field--name-uid"><span>{e(byline(s))}</span></span>
<span class="field field--name-created">{s['ymd'][1]:02d}/{s['ymd'][2]:02d}/{s['ymd'][0]} - {s['hm'][0]:02d}:{s['hm'][1]:02d}</span></div>
<div class="node__content">
<div class="field field--name-field-image"><img src="/sites/default/files/{s['n']}.jpg" alt="{e(s['caption'])}"></div>
<div class="clearfix text-formatted field field--name-body field--type-text-with-summary field__item">
{body_blocks(s, lambda p: f"<p>{e(p)}</p>", lambda h: f"<h3>{e(h)}</h3>")}
</div>
<div class="field field--name-field-tags"><div class="field__label">Tags</div><div class="field__items"><div class="field__item"><a href="/taxonomy/term/4">Council</a></div></div></div>
</div></article>
<section class="block block-views"><h2>Related stories</h2><div class="view-content"><ul>{related(s['n'], '/node/')}</ul></div></section>
</div></main></div>{footer(site)}</div></body></html>"""


def ghost(s):
    site = "The Long Read Weekly"
    return f"""<!DOCTYPE html><html lang="en"><head><title>{e(s['title'])}</title>
<meta property="og:type" content="article"><meta property="article:published_time" content="{s['iso']}">
<meta name="twitter:label1" content="Written by"><meta name="twitter:data1" content="{e(byline(s))}">
{jsonld(s, site)}</head>
<body class="post-template"><div class="viewport"><header id="gh-head" class="gh-head">{nav()}</header>
<div class="site-content"><main id="site-main" class="site-main">
<article class="article post">
<header class="article-header gh-canvas"><div class="article-tag post-card-primary-tag"><a href="/tag/{s['section'].lower()}/">{s['section']}</a></div>
<h1 class="article-title">{e(s['title'])}</h1><p class="article-excerpt">{e(s['deck'])}</p>
<div class="article-byline"><div class="article-byline-content"><h4 class="author-name">{' '.join(f'<a href="/author/{a.split()[0].lower()}/">{e(a)}</a>' for a in s['authors'])}</h4>
<div class="byline-meta-content"><time class="byline-meta-date" datetime="{s['iso'][:10]}">{MONTHS[s['ymd'][1]-1][:3]} {s['ymd'][2]}, {s['ymd'][0]}</time><span class="byline-reading-time">5 min read</span></div></div></div>
<figure class="article-image"><img src="/content/images/{s['n']}.jpg" alt="{e(s['title'])}"><figcaption>{e(s['caption'])}</figcaption></figure></header>
<section class="gh-content gh-canvas">
{body_blocks(s, lambda p: f"<p>{e(p)}</p>", lambda h: f'<h2 id="{h.lower().replace(" ", "-")}">{e(h)}</h2>')}
<div class="kg-card kg-callout-card"><div class="kg-callout-text">Enjoying this? Become a member to get every issue.</div></div>
</section></article>
<section class="footer-cta outer"><div class="inner"><h2 class="footer-cta-title">Sign up for more like this.</h2><a class="footer-cta-button" href="#/portal">Enter your email</a></div></section>
<aside class="read-more-wrap outer"><div class="read-more inner">{related(s['n'])}</div></aside>
</main></div>{footer(site)}</div></body></html>"""


def nyt_like(s):
    site = "The Daily Register"
    paras = s["paragraphs"]
    groups = [paras[i:i + 3] for i in range(0, len(paras), 3)]
    sections = []
    count = 0
    for g in groups:
        inner = []
        for p in g:
            if s["subhead"] and s["subhead"][0] == count:
                inner.append(f'<h2 class="css-1v7ajn9 eoo0vm40">{e(s["subhead"][1])}</h2>')
            inner.append(f'<p class="css-at9mc1 evys1bk0">{e(p)}</p>')
            count += 1
        sections.append(f'<div class="css-53u6y8"><div class="css-1r7ky0e StoryBodyCompanionColumn">{"".join(inner)}</div></div>')
        sections.append('<div class="css-1tn5trn"><div class="ad" id="mid1"><p>Advertisement</p><p><a href="#after-mid1">Skip Advertisement</a></p></div></div>')
    return f"""<!DOCTYPE html><html lang="en"><head><title>{e(s['title'])} - {site}</title>
<meta property="og:title" content="{e(s['title'])}"><meta name="byl" content="By {e(byline(s))}">
<meta property="article:published_time" content="{s['iso']}"><meta name="description" content="{e(s['deck'])}">
</head><body><div id="app"><header class="css-ahe4g0">{nav()}</header>
<main id="site-content"><div><article id="story" class="css-1vxca1d">
<header class="css-d92kzx"><div class="css-1qcs2g4"><p class="css-ck0ie6"><a href="/section/{s['section'].lower()}">{s['section']}</a></p></div>
<h1 data-testid="headline" class="css-1fz4kv1">{e(s['title'])}</h1>
<p id="article-summary" class="css-79rysd">{e(s['deck'])}</p>
<div class="css-xt80pu"><p class="css-aknsld e1jsehar1"><span class="byline-prefix">By</span> {' and '.join(f'<span class="css-1baulvz last-byline" itemprop="name"><a href="/by/{a.split()[0].lower()}">{e(a)}</a></span>' for a in s['authors'])}</p>
<time class="css-129k401" datetime="{s['iso']}">{human_date(s)}</time></div></header>
<section name="articleBody" itemprop="articleBody">{''.join(sections)}</section>
<div class="bottom-of-article"><p>A version of this article appears in print on Section A, Page 14 of the New York edition.</p><a href="/subscribe">Order Reprints</a> | <a href="/paper">Today's Paper</a> | <a href="/subscribe">Subscribe</a></div>
</article></div>
<div class="css-1cuc0cy"><h2>More in {s['section']}</h2><ol>{related(s['n'])}</ol></div></main>
{footer(site)}</div></body></html>"""


def bbc_like(s):
    site = "Public Broadcaster News"
    blocks = body_blocks(
        s,
        lambda p: f'<div data-component="text-block" class="ssrcss-7uxr49-RichTextContainer"><div class="ssrcss-1vbpz8m-Paragraph"><p class="ssrcss-1q0x1qg-Paragraph">{e(p)}</p></div></div>',
        lambda h: f'<div data-component="subheadline-block"><h2 class="ssrcss-y8stko-StyledHeading">{e(h)}</h2></div>')
    return f"""<!DOCTYPE html><html lang="en-GB"><head><title>{e(s['title'])} - {site}</title>
<meta property="og:title" content="{e(s['title'])} - {site}"><meta property="og:type" content="article">
{jsonld(s, site, with_author=False)}</head><body>
<div id="main-content"><header>{nav()}</header>
<main role="main" class="ssrcss-1ocoo3l-Wrap"><article class="ssrcss-pv1rh6-ArticleWrapper">
<header data-component="headline-block"><h1 id="main-heading" class="ssrcss-15xko80-StyledHeading">{e(s['title'])}</h1></header>
<div data-component="byline-block"><div class="ssrcss-68pt20-Text-TextContributorName">By {e(byline(s))}</div><div class="ssrcss-84ltp5-Text">{s['section']} correspondent</div></div>
<div data-component="timestamp-block"><time datetime="{s['iso']}">{s['ymd'][2]} {MONTHS[s['ymd'][1]-1]} {s['ymd'][0]}</time></div>
<div data-component="image-block"><figure><img src="https://ichef.example/{s['n']}.jpg" alt="{e(s['caption'])}"><figcaption><span class="ssrcss-1qn0xuy-VisuallyHidden">Image caption, </span>{e(s['caption'])}</figcaption></figure></div>
{blocks}
<div data-component="links-block"><h2>Related topics</h2><ul><li><a href="/topics/1">Local government</a></li><li><a href="/topics/2">Transport</a></li></ul></div>
</article>
<section data-component="see-alsos"><h2>More on this story</h2><ul>{related(s['n'])}</ul></section>
<aside class="ssrcss-most-read" aria-labelledby="most-read"><h2 id="most-read">Most read</h2><ol>{related(s['n'] + 3)}</ol></aside>
</main>{footer(site)}</div></body></html>"""


def guardian_like(s):
    site = "The Observer Review"
    return f"""<!DOCTYPE html><html lang="en"><head><title>{e(s['title'])} | {s['section']} | {site}</title>
<meta property="og:title" content="{e(s['title'])}"><meta name="author" content="{e(byline(s))}">
<meta property="article:published_time" content="{s['iso']}"><meta property="og:type" content="article"></head>
<body><header data-component="nav">{nav()}</header>
<main data-layout="StandardLayout"><article>
<div data-gu-name="title"><a href="/{s['section'].lower()}" data-link-name="article section"><span>{s['section']}</span></a></div>
<div data-gu-name="headline"><h1 class="dcr-u0152o">{e(s['title'])}</h1></div>
<div data-gu-name="standfirst"><div class="dcr-1yi1cnj"><p>{e(s['deck'])}</p></div></div>
<div data-gu-name="meta"><address aria-label="Contributor info" data-component="meta-byline"><div class="dcr-1cfpnlw">{' and '.join(f'<a rel="author" href="/profile/{a.split()[0].lower()}">{e(a)}</a>' for a in s['authors'])}</div></address>
<details class="dcr-1hbbg2t"><summary><span class="dcr-u0h1qy">{human_date(s)}</span></summary></details>
<div class="dcr-shares"><a href="https://facebook.example/share">Share on Facebook</a><a href="mailto:?">Share via Email</a></div></div>
<div data-gu-name="media"><figure><img src="https://i.guim.example/{s['n']}.jpg" alt="{e(s['caption'])}"><figcaption><span class="dcr-caption">{e(s['caption'])}</span></figcaption></figure></div>
<div data-gu-name="body"><div id="maincontent"><div class="article-body-commercial-selector article-body-viewer-selector dcr-fp1ya">
{body_blocks(s, lambda p: f'<p class="dcr-4cudl2">{e(p)}</p>', lambda h: f'<h2 id="h-{s["n"]}" class="dcr-1ofbqyz">{e(h)}</h2>')}
<aside data-gu-name="supporting"><p>Explore more on these topics</p></aside>
</div></div>
<div class="submeta"><span>Explore more on these topics</span><ul><li><a href="/t/a">Local government</a></li><li><a href="/t/b">Transport</a></li></ul></div>
<div data-gu-name="epic"><p>We have a small favour to ask. Millions are turning to us for open, independent, quality news every day, and readers in 180 countries now support us financially.</p></div></div>
</article>
<section data-component="more-on-this-story"><h2>More on this story</h2><ul>{related(s['n'])}</ul></section>
<section data-component="most-viewed"><h2>Most viewed</h2><ol>{related(s['n'] + 9)}</ol></section></main>
{footer(site)}</body></html>"""


def korean_daily(s):
    """Bespoke layout like the seed page: menus twice, most-read box, render-time date
    line, `Posted :` lines, print preview, captions twice."""
    site = "The Harbor Times"
    y, m, d = s["ymd"]
    h, mi = s["hm"]
    menu = nav()
    most = "".join(f'<li><span class="num">{k + 1}</span><a href="/www/nation/2024/01/113_{2000 + k}.html">{e(story(s["n"] + 20 + k)["title"])}</a></li>' for k in range(10))
    body = body_blocks(s, lambda p: f"<p>{e(p)}</p>", lambda hd: f"<p><b>{e(hd)}</b></p>")
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(s['title'])} - {site}</title>
<meta property="og:title" content="{e(s['title'])}"><meta property="og:type" content="article"></head>
<body><div class="menu desktop">{menu}</div><div class="menu mobile">{menu}</div>
<div class="member"><a href="/login">Login</a> <a href="/register">Register</a> <a href="/subscribe">Subscribe</a></div>
<div class="most-read"><h3>Most Read</h3><ol>{most}</ol></div>
<div class="dateline">Sun, November 29, 2026 | 20:48</div>
<div class="view_page">
<div class="breadcrumb"><a href="/www/nation/">National</a> &gt; <a href="/www/sublist_113.html">{s['section']}</a></div>
<div class="view_headline">{e(s['title'])}</div>
<div class="view_date"><span>Posted : {y:04d}-{m:02d}-{d:02d} {h:02d}:{mi:02d}</span></div>
<div class="view_reporter"><a href="/www2/common/morelist.asp?id=x">{e(s['authors'][0])}</a></div>
<div class="view_tools"><a href="/common/printpreview.asp?id={s['n']}">Print Preview</a> <a href="#">A+</a> <a href="#">A-</a> <a href="https://facebook.example/share">facebook</a> <a href="https://twitter.example/intent">twitter</a></div>
<div class="view_img"><img src="/upload/{s['n']}.jpg" alt="{e(s['caption'].replace('Photo by', 'Photo courtesy of'))}"><div class="view_img_caption">{e(s['caption'])}</div></div>
<div class="view_sub_headline">{e(s['deck'])}</div>
<div class="view_article"><div id="startts"><span>By {e(byline(s))}</span></div>
{body}
</div>
<div class="view_reporter_info"><a href="mailto:reporter@harbortimes.example">reporter@harbortimes.example</a> <a href="/www/nation/">Article List</a> <a href="/www2/common/morelist.asp?id=x">More articles by this reporter</a></div>
</div>
<div class="ads"><a href="https://bank.example"><img src="/ad/bank.gif" alt="Bank"></a></div>
<div class="top10"><h3>Top 10 Stories</h3><ol>{most}</ol></div>
{footer(site)}<p class="reg">등록번호 서울 아 00000 | 발행인 홍길동</p></body></html>"""


def substack_like(s):
    site = "Field Notes"
    return f"""<!DOCTYPE html><html><head><title>{e(s['title'])} - by {e(s['authors'][0])} - {site}</title>
<meta property="og:title" content="{e(s['title'])}"><meta property="og:type" content="article">
<meta name="author" content="{e(byline(s))}">
{jsonld(s, site)}</head><body><div id="entry"><div class="main-menu">{nav()}</div>
<div class="single-post-container"><div class="container"><div class="single-post"><div class="post">
<div class="post-header"><h1 class="post-title published">{e(s['title'])}</h1><h3 class="subtitle">{e(s['deck'])}</h3>
<div class="post-meta"><div class="profile-hover-card-target"><a href="/profile/x">{e(byline(s))}</a></div><div class="pencraft">{MONTHS[s['ymd'][1]-1][:3]} {s['ymd'][2]}, {s['ymd'][0]}</div></div>
<div class="post-ufi"><a class="like-button">42</a><a class="comment-button">7</a><a class="share-button">Share</a></div></div>
<div class="available-content"><div dir="auto" class="body markup">
{body_blocks(s, lambda p: f"<p>{e(p)}</p>", lambda h: f'<h3 class="header-anchor-post">{e(h)}</h3>')}
<div class="subscription-widget-wrap"><div class="subscription-widget"><p class="cta-caption">Thanks for reading Field Notes! Subscribe for free to receive new posts and support my work.</p><input type="email" placeholder="Type your email..."><button>Subscribe</button></div></div>
</div></div>
<div class="post-footer"><a class="like-button">42 Likes</a><a class="restack-button">3 Restacks</a></div>
</div></div></div></div>
<div class="comments-section"><h4>Discussion about this post</h4><div class="comment-body"><p>Really appreciated the detail on the budget numbers in this one.</p></div></div>
</div></body></html>"""


FAMILIES = [
    ("wordpress", wordpress_classic), ("gutenberg", wordpress_gutenberg), ("arcxp", arc_xp),
    ("drupal", drupal), ("ghost", ghost), ("nytlike", nyt_like), ("bbclike", bbc_like),
    ("guardianlike", guardian_like), ("koreandaily", korean_daily), ("substacklike", substack_like),
]

def expected(family, s):
    """The values a reader takes from the page. Dates: the moment, or only the day when
    the page gives no time (Ghost); `time_zone` is the site's zone, for pages that
    print local times without one."""
    published = s["iso"][:10] if family == "ghost" else s["iso"]
    return {"family": family, "title": s["title"], "authors": s["authors"], "published": published,
            "time_zone": _zone_name(s), "body": expected_body(s)}


def _zone_name(s):
    return {"-05:00": "America/Panama", "+00:00": "UTC", "+09:00": "Asia/Seoul",
            "+01:00": "Africa/Lagos", "-08:00": "Pacific/Pitcairn"}[s["zone"][0]]


def main():
    os.makedirs(OUT, exist_ok=True)
    n = 0
    for round_ in range(4):
        for family, render in FAMILIES:
            n += 1
            s = story(n + 100 * round_)
            name = f"{n:02d}-{family}"
            with open(os.path.join(OUT, name + ".html"), "w", encoding="utf-8") as f:
                f.write(render(s))
            with open(os.path.join(OUT, name + ".json"), "w", encoding="utf-8") as f:
                json.dump(expected(family, s), f, indent=1, ensure_ascii=False)
                f.write("\n")
    print(f"{n} pages in {OUT}")


if __name__ == "__main__":
    main()

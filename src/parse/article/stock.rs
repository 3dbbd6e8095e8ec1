//! Stock lines: the words pages put around a story rather than in it, in the
//! languages news is written in most: headings of boxes of other stories ("Related",
//! "Lesen Sie auch", "À lire aussi"), posting and update lines, credit lines.
//!
//! Invariant: each test reads a line's own text only (no page, no site), matches
//! whole phrases at the start of the line, and holds only for short lines, so that a
//! sentence of the story that happens to start the same way is kept.

use std::sync::LazyLock;

use crate::parse::rx::rx;
use regex::Regex;

/// Headings that open a box of other stories or of the page's services.
static RELATED: LazyLock<Regex> = LazyLock::new(|| {
    rx(concat!(
        r"(?i)^(?:",
        // English
        r"related|read (?:more|also|next)|also read|more (?:from|on|about|stories|news|in)|you (?:may|might) (?:also )?(?:like|be interested)",
        r"|recommended|most (?:read|popular|viewed|shared)|popular|trending|see also|don't miss|latest (?:news|stories|posts)|further reading",
        r"|share (?:this|on)|about the author|more like this|top stories|editor's picks",
        // German
        r"|lesen sie (?:auch|mehr|weiter)|weiterlesen|mehr (?:zum thema|zu diesem thema|dazu|aus|artikel|news|nachrichten)|(?:das|dies) könnte (?:sie|dich) (?:auch )?interessieren",
        r"|auch interessant|ebenfalls interessant|ähnliche (?:beiträge|artikel|themen)|verwandte (?:beiträge|artikel|themen)|weitere (?:artikel|beiträge|nachrichten|meldungen|themen)",
        r"|schon gelesen|meistgelesen|meist gelesen|beliebte (?:beiträge|artikel)|über den autor|zum weiterlesen|aktuelle (?:berichte|beiträge|artikel|nachrichten)",
        r"|passend dazu|auch spannend|empfehlungen|top-?themen|artikel teilen|beitrag teilen|diesen (?:artikel|beitrag) teilen",
        // French, Spanish, Italian, Portuguese, Polish, Dutch
        r"|(?:à )?lire (?:aussi|également)|sur le même (?:sujet|thème)|articles? similaires|voir aussi|les plus lus|à voir aussi|(?:audios et )?vidéos sur le sujet|dans la même rubrique",
        r"|lee (?:también|además)|te puede interesar|noticias relacionadas|(?:lo )?más (?:leíd[oa]s|visto)|también te puede interesar|relacionad[oa]s",
        r"|leggi anche|articoli correlati|potrebbe interessarti|leia também|veja também|notícias relacionadas",
        r"|czytaj (?:także|też|również)|zobacz (?:też|także|również)|polecane|lees ook|gerelateerde",
        r")(?-u:\b)",
    ))
});

/// Lines that say when or under what a post was filed, not what it says.
static FILED: LazyLock<Regex> = LazyLock::new(|| {
    rx(concat!(
        r"(?i)^(?:this (?:entry|post) was (?:posted|published)|posted (?:on|in|by)|published (?:on|in)|(?:posted|published|date|datum|입력)\s*:|filed under|tags?:|tagged|categor(?:y|ies):",
        r"|last (?:updated|modified)|updated:?\s|dieser (?:eintrag|beitrag) wurde|erstellt am|veröffentlicht (?:am|:)|aktualisiert(?: am)?:?\s|zuletzt aktualisiert|schlagwörter|kategorien?:",
        r"|publié le|mis à jour le|publicado (?:el|:)|actualizado (?:el|:)|opublikowano|aktualizacja",
        r")",
    ))
});

/// Credit and caption lines: who took a picture, where a text comes from.
static CREDIT: LazyLock<Regex> = LazyLock::new(|| {
    rx(
        r"(?i)^(?:foto|fotos|photo|photos|bild|bilder|image|credits?|crédits?(?: photos?)?|quelle|source|abbildung|copyright|©|\(c\))\s*:",
    )
});

/// Lines that talk to the reader about the page rather than tell the story: sharing
/// and feedback prompts, advertising labels, subscription and log-in prompts, contact
/// lines, comment counters.
static SERVICE: LazyLock<Regex> = LazyLock::new(|| {
    rx(concat!(
        r"(?i)^(?:[-*•\s]*)(?:",
        r"(?:be sociable, )?share(?: (?:this|on|via)|!?$)|teilen!?$|diesen (?:artikel|beitrag) teilen|möchten sie (?:den|diesen) (?:artikel|beitrag) teilen",
        r"|(?:war|ist) (?:der|dieser) (?:artikel|beitrag) (?:nützlich|hilfreich)|was this (?:article|page|post) (?:helpful|useful)|did you (?:like|enjoy) this",
        r"|gefällt (?:dir|ihnen) (?:unser|dieser|der)|like (?:us|this) on",
        r"|anzeige\s*-?$|werbung(?-u:\b)|advertisement$|sponsored$|publicidad$|publicité$",
        r"|subscribe (?:now|to|today)|to (?:view|read|continue reading) the full (?:story|article)|never miss|sign up (?:for|to)|already a subscriber",
        r"|jetzt abonnieren|abonnieren sie|ja\.? ich bin abonnent|sie sind (?:aktuell |derzeit )?nicht eingeloggt|bitte (?:melden sie sich an|registrieren sie sich)",
        r"|hazte (?:miembro|socio)|suscr[ií]bete|abonnez-vous",
        r"|kontakt:|tel\.?:|telefon:|fax:|e-mail:|pressekontakt|ihr ansprechpartner|bei fragen und anregungen",
        r"|keine kommentare|kommentare? (?:schreiben|insgesamt|anzeigen)|bisherige kommentare|[0-9]+ kommentare?$|no comments|leave a (?:comment|reply)|[0-9]+ comments?$",
        r")",
    ))
});
/// Copyright and reprint notices: they run longer than other service lines.
static NOTICE: LazyLock<Regex> = LazyLock::new(|| {
    rx(concat!(
        r"(?i)^(?:this (?:article|story|content|material) is (?:the )?copyright(?:ed)?|(?:prior )?written permission (?:must|is required)",
        r"|all rights reserved|alle rechte vorbehalten|tous droits réservés|todos los derechos reservados|(?:©|copyright)\s*(?:©\s*)?[0-9]{4}(?-u:\b))",
    ))
});
/// A line that is a date or a time of day and little else ("19:49", "23.10.2018").
static DATE_ONLY: LazyLock<Regex> = LazyLock::new(|| {
    rx(
        r"(?i)^[\s0-9.:/,|–—-]*(?:[0-9]{1,2}:[0-9]{2}\s*(?:[ap]\.?m\.?|uhr)?|[0-9]{1,2}[./-][0-9]{1,2}[./-][0-9]{2,4})[\s0-9.:/,|–—-]*(?:[ap]\.?m\.?|uhr)?\s*$",
    )
});

/// A short line that speaks to the reader about the page (share, subscribe, contact,
/// comment counters), a copyright notice, or a line that is only a date.
pub(super) fn is_service_line(text: &str, chars: usize) -> bool {
    (chars <= 160 && (SERVICE.is_match(text) || (chars <= 30 && DATE_ONLY.is_match(text))))
        || (chars <= 400 && NOTICE.is_match(text))
}

/// A heading or short line that opens a box of other stories.
pub(super) fn opens_related(text: &str, chars: usize) -> bool {
    chars <= 60 && RELATED.is_match(text.trim_start_matches(|c: char| !c.is_alphanumeric()))
}

/// A short line about the post, not of it: filing and update lines, credit lines.
pub(super) fn is_filing_or_credit(text: &str, chars: usize) -> bool {
    chars <= 120 && (FILED.is_match(text) || CREDIT.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(t: &str) -> usize {
        t.chars().filter(|c| !c.is_whitespace()).count()
    }

    #[test]
    fn related_headings_in_several_languages() {
        for heading in [
            "Related articles",
            "Lesen Sie auch",
            "Das könnte Sie auch interessieren!",
            "À lire aussi",
            "Noticias relacionadas",
            "Czytaj także:",
            "» Weiterlesen:",
        ] {
            assert!(opens_related(heading, chars(heading)), "{heading}");
        }
        for line in [
            "Relatedness is what the study measured, in eleven cohorts of patients who were followed for years.",
            "Popularity",
            "The minister said more from the fund would follow.",
        ] {
            assert!(!opens_related(line, chars(line)), "{line}");
        }
    }

    #[test]
    fn service_lines() {
        for line in [
            "Be Sociable, Share!",
            "War der Artikel nützlich?",
            "- Anzeige-",
            "Subscribe now to our eNATION edition for the full story.",
            "Sie sind aktuell nicht eingeloggt.",
            "Keine Kommentare",
            "Tel.: 030 1234",
            "19:49",
            "3:59 PM",
            "23.10.2018",
            "This article is the copyrighted property of The Daily Example.",
            "Written permission must be obtained before reprint in online or print media.",
            "© 2022 The Daily Example. All rights reserved.",
            "© 2022, Example.com. This article is the copyrighted property of Example News. Written permission must be obtained before reprint in online or print media. REPRINTING CONTENT WITHOUT PERMISSION AND/OR PAYMENT IS THEFT AND PUNISHABLE BY LAW.",
        ] {
            assert!(is_service_line(line, chars(line)), "{line}");
        }
        for line in [
            "Subscribers to the service paid 12 euros a month more than last year, the regulator said in its annual report on prices.",
            "Shareholders met on Monday.",
            "All rights groups condemned the ruling.",
            "2019",
        ] {
            assert!(!is_service_line(line, chars(line)) || chars(line) > 160, "{line}");
        }
    }

    #[test]
    fn filing_and_credit_lines() {
        for line in [
            "This entry was posted in News",
            "Erstellt am Dienstag 6. Mai 2014",
            "Foto: dpa",
            "Quelle: Landesregierung",
            "Aktualisiert: 03.04.2020",
            "Posted : 2024-03-01 09:00 Updated : 2024-03-02 03:25",
        ] {
            assert!(is_filing_or_credit(line, chars(line)), "{line}");
        }
        assert!(!is_filing_or_credit(
            "Posted letters took weeks to arrive.",
            30
        ));
    }
}

//! URL normalization: any href against any base gives either an error or an http(s)
//! URL with a host that normalizes to itself (idempotence).
#![no_main]

use libfuzzer_sys::fuzz_target;
use newscrawl::urlnorm::Normalizer;

fuzz_target!(|input: (&str, &str)| {
    let (base, href) = input;
    let normalizer = Normalizer::default();
    let Ok(base) = url::Url::parse(&format!("http://{base}")) else {
        return;
    };
    if let Ok(url) = normalizer.resolve(&base, href) {
        assert!(matches!(url.scheme(), "http" | "https"));
        assert!(url.host_str().is_some_and(|h| !h.is_empty()));
        let again = normalizer
            .parse(url.as_str())
            .expect("a normalized URL parses");
        assert_eq!(again.as_str(), url.as_str(), "normalization is idempotent");
    }
});

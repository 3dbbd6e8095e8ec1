//! What the comparison's binaries share: reading a peer's byline into names.

/// A peer's byline ("By A, B and C") as a list of names.
pub fn names(byline: &str) -> Vec<String> {
    let byline = byline.trim();
    let byline = byline.strip_prefix("By ").unwrap_or(byline);
    byline
        .split([',', ';', '&'])
        .flat_map(|p| p.split(" and "))
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

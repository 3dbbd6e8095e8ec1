//! Document order: where each element stands in the page, so that "after the
//! headline" and "nearest to it" are questions of one number.
//!
//! Invariant: an element's number is greater than those of every element that opens
//! before it in the source (its ancestors and earlier siblings' subtrees).

use std::collections::HashMap;

use ego_tree::NodeId;
use scraper::{ElementRef, Html};

/// The position of every element of a page in document order (text nodes have none).
pub(super) struct Order {
    at: HashMap<NodeId, usize>,
}

impl Order {
    pub fn of_page(html: &Html) -> Self {
        let at = html
            .tree
            .root()
            .descendants()
            .filter(|node| node.value().is_element())
            .enumerate()
            .map(|(i, node)| (node.id(), i))
            .collect();
        Self { at }
    }

    /// An element's position (0 for one not in the page).
    pub fn of(&self, el: ElementRef<'_>) -> usize {
        self.at.get(&el.id()).copied().unwrap_or(0)
    }
}

//! The Graph API's `fields` parameter, as far as the fake heeds it.
//!
//! The fake answers its usual fields (`id`, `caption`, `media_url`…)
//! whatever `fields` asks, as it always has; only the fields added for
//! igfeed's picture features, so far `alt_text`, are answered when asked
//! for and only then, so that a test sees igfeed ask for them (and an
//! igfeed that does not ask gets the answers it always got).

/// The field names a `fields` parameter asks for: those of the post, and
/// those inside `children{...}`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Fields {
    post: Vec<String>,
    children: Vec<String>,
}

impl Fields {
    /// Reads Graph's syntax: names separated by commas, a name followed
    /// by `{sub,fields}` for an edge's fields (nested as deep as asked)
    /// or by modifiers such as `.limit(5)`; blanks around names ignored.
    pub(crate) fn parse(fields: &str) -> Self {
        let mut out = Self::default();
        for item in split_top_level(fields) {
            let (name, sub) = name_and_sub(item);
            if name.is_empty() {
                continue;
            }
            if name == "children" {
                out.children.extend(
                    split_top_level(sub.unwrap_or(""))
                        .into_iter()
                        .map(|c| name_and_sub(c).0.to_string())
                        .filter(|c| !c.is_empty()),
                );
            }
            out.post.push(name.to_string());
        }
        out
    }

    /// Whether the posts' own fields include `name`.
    pub(crate) fn post(&self, name: &str) -> bool {
        self.post.iter().any(|f| f == name)
    }

    /// Whether `children{...}` includes `name`.
    pub(crate) fn child(&self, name: &str) -> bool {
        self.children.iter().any(|f| f == name)
    }
}

/// The comma-separated items outside any `{}` or `()`.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, ch) in s.char_indices() {
        match ch {
            '{' | '(' => depth += 1,
            '}' | ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&s[start..]);
    items
}

/// An item's name and, if it has `{...}`, what is inside the braces (to
/// the end if they are never closed).
fn name_and_sub(item: &str) -> (&str, Option<&str>) {
    let end = item.find(['{', '.', '(']).unwrap_or(item.len());
    let name = item[..end].trim();
    let sub = item.find('{').map(|open| {
        let inner = &item[open + 1..];
        inner.rfind('}').map_or(inner, |close| &inner[..close])
    });
    (name, sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn igfeed_fields_with_alt_text() {
        let f = Fields::parse(
            "id,caption,media_type,media_url,alt_text,children{id,media_type,media_url,alt_text}",
        );
        assert!(f.post("alt_text") && f.post("children") && f.post("caption"));
        assert!(f.child("alt_text") && f.child("media_url"));
        assert!(!f.child("caption"));
    }

    #[test]
    fn alt_text_of_children_only() {
        let f = Fields::parse("id, children{ id , alt_text },timestamp");
        assert!(!f.post("alt_text"));
        assert!(f.post("timestamp"));
        assert!(f.child("alt_text"));
    }

    #[test]
    fn alt_text_of_posts_only() {
        let f = Fields::parse("alt_text,children{id,media_url}");
        assert!(f.post("alt_text"));
        assert!(!f.child("alt_text"));
    }

    #[test]
    fn modifiers_and_nesting_are_skipped() {
        let f = Fields::parse("comments.limit(2){text,from{id,alt_text}},children.limit(3){id}");
        assert!(f.post("comments") && f.post("children"));
        assert!(!f.post("alt_text") && !f.post("from") && !f.post("text"));
        assert!(f.child("id"));
        assert!(!f.child("alt_text"));
    }

    #[test]
    fn nothing_asked() {
        assert_eq!(Fields::parse(""), Fields::default());
        assert!(!Fields::parse("id,alt_text_x,x_alt_text").post("alt_text"));
    }
}

//! The Graph API's JSON as it arrives, kept private to the client: lenient
//! where Instagram's shapes vary (numeric or string ids, missing fields), and converted at once into the
//! public types of [`super::types`].

use serde::Deserialize;

use super::types::{Account, Media, MediaChild, MediaType, MediaUrls};

#[derive(Deserialize)]
pub(super) struct Envelope {
    pub error: Option<WireError>,
}

#[derive(Deserialize)]
pub(super) struct WireError {
    #[serde(default)]
    pub message: String,
    pub code: Option<i64>,
    pub error_subcode: Option<i64>,
}

#[derive(Deserialize)]
pub(super) struct Page {
    #[serde(default)]
    pub data: Vec<WireMedia>,
    pub paging: Option<Paging>,
}

#[derive(Deserialize)]
pub(super) struct Paging {
    pub next: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireMedia {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub caption: Option<String>,
    pub alt_text: Option<String>,
    pub media_type: Option<String>,
    pub media_url: Option<String>,
    pub permalink: Option<String>,
    pub thumbnail_url: Option<String>,
    pub timestamp: Option<String>,
    pub children: Option<Children>,
}

#[derive(Deserialize)]
pub(super) struct Children {
    #[serde(default)]
    pub data: Vec<WireChild>,
}

#[derive(Deserialize)]
pub(super) struct WireChild {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub alt_text: Option<String>,
    pub media_type: Option<String>,
    pub media_url: Option<String>,
    pub thumbnail_url: Option<String>,
}

/// `/me` answers a flat object; tolerate a `{"data":[…]}` wrapper too.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum MeAnswer {
    Wrapped { data: Vec<WireMe> },
    Flat(WireMe),
}

#[derive(Deserialize)]
pub(super) struct WireMe {
    #[serde(default, deserialize_with = "opt_id_string")]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id_string")]
    pub id: Option<String>,
    pub username: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireUrls {
    pub media_url: Option<String>,
    pub thumbnail_url: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireToken {
    pub access_token: String,
    pub expires_in: Option<u64>,
}

/// Ids are strings in the Graph API, but accept numbers too (some answers,
/// such as OAuth's `user_id`, send integers).
fn id_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    opt_id_string(d)?.ok_or_else(|| serde::de::Error::custom("missing id"))
}

fn opt_id_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        N(u64),
    }
    Ok(Option::<Id>::deserialize(d)?.map(|id| match id {
        Id::S(s) => s,
        Id::N(n) => n.to_string(),
    }))
}

/// A media's type; a missing or unknown one is shown as an image (its
/// `media_url` is then the best guess at something to show).
fn media_type(name: Option<&str>) -> MediaType {
    name.and_then(MediaType::from_name)
        .unwrap_or(MediaType::Image)
}

/// A post as Instagram sent it, if its id has the documented form (else it
/// is left out, and so is a carousel child with a malformed id); a
/// permalink that is not an Instagram post page is dropped.
pub(super) fn checked(w: WireMedia) -> Option<Media> {
    if !super::is_media_id(&w.id) {
        tracing::warn!("Instagram sent a media with a malformed id; it is left out");
        return None;
    }
    Some(Media {
        id: w.id,
        media_type: media_type(w.media_type.as_deref()),
        caption: w.caption,
        alt_text: w.alt_text,
        permalink: w.permalink.filter(|p| super::is_permalink(p)),
        timestamp: w.timestamp,
        media_url: w.media_url,
        thumbnail_url: w.thumbnail_url,
        children: w.children.map(|c| {
            c.data
                .into_iter()
                .filter(|c| super::is_media_id(&c.id))
                .map(|c| MediaChild {
                    id: c.id,
                    media_type: media_type(c.media_type.as_deref()),
                    alt_text: c.alt_text,
                    media_url: c.media_url,
                    thumbnail_url: c.thumbnail_url,
                })
                .collect()
        }),
    })
}

impl MeAnswer {
    pub fn into_account(self) -> Option<Account> {
        let me = match self {
            MeAnswer::Flat(me) => me,
            MeAnswer::Wrapped { data } => data.into_iter().next()?,
        };
        Some(Account {
            id: me.user_id.or(me.id)?,
            username: me.username.unwrap_or_default(),
        })
    }
}

impl From<WireUrls> for MediaUrls {
    fn from(w: WireUrls) -> Self {
        MediaUrls {
            media_url: w.media_url,
            thumbnail_url: w.thumbnail_url,
        }
    }
}

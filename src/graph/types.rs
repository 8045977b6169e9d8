//! What the Graph client hands out: the account, its media, fresh CDN URLs.
//! These are also what the last good feed is stored as, so they carry the
//! Instagram CDN URLs, never this service's rewritten ones.

use serde::{Deserialize, Serialize};

/// The Instagram account the token belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Account {
    /// The professional account id (`user_id`).
    pub id: String,
    pub username: String,
}

/// What kind of post (or carousel item) a media is, in the Graph API's
/// names.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MediaType {
    Image,
    Video,
    CarouselAlbum,
}

impl MediaType {
    /// Every type, in the Graph API's order.
    pub const ALL: [MediaType; 3] = [MediaType::Image, MediaType::Video, MediaType::CarouselAlbum];

    /// The Graph API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Image => "IMAGE",
            MediaType::Video => "VIDEO",
            MediaType::CarouselAlbum => "CAROUSEL_ALBUM",
        }
    }

    /// The type of a Graph API name; `None` for a name it does not have.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// One post as Instagram describes it. Missing values stay `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub id: String,
    pub media_type: MediaType,
    pub caption: Option<String>,
    /// The accessibility text the owner wrote (often absent).
    #[serde(default)]
    pub alt_text: Option<String>,
    pub permalink: Option<String>,
    pub timestamp: Option<String>,
    /// Instagram CDN URL (signed, expires); absent for copyright-flagged media.
    pub media_url: Option<String>,
    /// Instagram CDN URL of a video's thumbnail.
    pub thumbnail_url: Option<String>,
    /// Carousel children; `None` for other media types.
    pub children: Option<Vec<MediaChild>>,
}

/// One item of a carousel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaChild {
    pub id: String,
    pub media_type: MediaType,
    #[serde(default)]
    pub alt_text: Option<String>,
    pub media_url: Option<String>,
    pub thumbnail_url: Option<String>,
}

/// Current CDN URLs of one media, for recovering expired ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaUrls {
    pub media_url: Option<String>,
    pub thumbnail_url: Option<String>,
}

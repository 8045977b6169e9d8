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

/// One post as Instagram describes it. Missing values stay `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub id: String,
    pub media_type: String,
    pub caption: Option<String>,
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
    pub media_type: String,
    pub media_url: Option<String>,
    pub thumbnail_url: Option<String>,
}

/// Current CDN URLs of one media, for recovering expired ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaUrls {
    pub media_url: Option<String>,
    pub thumbnail_url: Option<String>,
}

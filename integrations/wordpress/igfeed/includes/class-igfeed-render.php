<?php
/**
 * The HTML of a feed: a list of links to each post, each holding one <img>.
 * No JavaScript; every value is escaped where it is printed.
 *
 * @package igfeed
 */

defined( 'ABSPATH' ) || exit;

/**
 * Turns attributes and a feed into markup, and the pieces the Bricks tags
 * share with it (image, alt text).
 */
final class Igfeed_Render {

	/**
	 * Attribute defaults of the shortcode and the block.
	 *
	 * @return array<string, mixed>
	 */
	public static function defaults(): array {
		return array(
			'account'  => 'default',
			'limit'    => 9,
			'columns'  => 3,
			'type'     => '',
			'captions' => 'no',
		);
	}

	/**
	 * Sanitized attributes: account a valid name (else null), limit 1..50,
	 * columns 1..6, type a canonical filter, captions a bool.
	 *
	 * @param array<string, mixed> $atts Raw attributes.
	 * @return array{account: ?string, limit: int, columns: int, type: string, captions: bool}
	 */
	public static function attributes( array $atts ): array {
		$atts    = array_merge( self::defaults(), array_filter( $atts, static fn( $v ) => null !== $v ) );
		$account = is_string( $atts['account'] ) ? strtolower( trim( $atts['account'] ) ) : '';
		if ( '' === $account ) {
			$account = 'default';
		}
		$captions = $atts['captions'];
		if ( is_string( $captions ) ) {
			$captions = in_array( strtolower( trim( $captions ) ), array( 'yes', 'true', '1', 'on' ), true );
		}
		return array(
			'account'  => Igfeed_Client::valid_account( $account ) ? $account : null,
			'limit'    => Igfeed_Settings::clamp( $atts['limit'], 1, Igfeed_Client::MAX_POSTS, 9 ),
			'columns'  => Igfeed_Settings::clamp( $atts['columns'], 1, 6, 3 ),
			'type'     => Igfeed_Client::sanitize_types( $atts['type'] ),
			'captions' => (bool) $captions,
		);
	}

	/**
	 * The markup of a feed for the given attributes; an HTML comment (and a
	 * notice for editors) when there is nothing to show.
	 *
	 * @param array<string, mixed> $atts        Raw attributes.
	 * @param string               $extra_class Extra classes of the outer element (blocks).
	 */
	public static function feed_html( array $atts, string $extra_class = '' ): string {
		$a = self::attributes( $atts );
		if ( null === $a['account'] ) {
			return self::problem( __( 'invalid account name', 'igfeed' ) );
		}
		$feed = Igfeed_Client::get_feed( $a['account'], $a['type'] );
		if ( is_wp_error( $feed ) ) {
			return self::problem( $feed->get_error_message() );
		}
		wp_enqueue_style( 'igfeed' );
		return self::grid( $feed, $a, $extra_class );
	}

	/**
	 * The grid of one feed.
	 *
	 * @param array<string, mixed>                                                               $feed Decoded feed.
	 * @param array{account: ?string, limit: int, columns: int, type: string, captions: bool} $a    Sanitized attributes.
	 * @param string                                                                             $extra_class Extra classes.
	 */
	public static function grid( array $feed, array $a, string $extra_class = '' ): string {
		$posts    = array_slice( is_array( $feed['data'] ?? null ) ? $feed['data'] : array(), 0, $a['limit'] );
		$username = self::str( $feed['user'] ?? array(), 'username' );
		$cols     = $a['columns'];
		$label    = $username
			/* translators: %s: Instagram username */
			? sprintf( __( 'Instagram posts by @%s', 'igfeed' ), $username )
			: __( 'Instagram posts', 'igfeed' );
		$sizes    = (string) apply_filters(
			'igfeed_image_sizes',
			sprintf( '(max-width: 600px) %dvw, %dvw', (int) floor( 100 / min( $cols, 2 ) ), (int) floor( 100 / $cols ) ),
			$cols
		);

		$classes = 'igfeed igfeed--account-' . $a['account'];
		if ( ! empty( $feed['igfeed_unreachable'] ) || ! empty( $feed['stale'] ) ) {
			$classes .= ' igfeed--stale';
		}
		if ( '' !== trim( $extra_class ) ) {
			$classes .= ' ' . trim( $extra_class );
		}
		$html  = '<div class="' . esc_attr( $classes ) . '" data-igfeed-account="' . esc_attr( (string) $a['account'] ) . '">';
		$html .= '<ul class="igfeed__grid" role="list" aria-label="' . esc_attr( $label ) . '" style="' . esc_attr( sprintf( '--igfeed-columns:%d;--igfeed-columns-sm:%d', $cols, min( $cols, 2 ) ) ) . '">';
		foreach ( $posts as $post ) {
			if ( is_array( $post ) ) {
				$html .= self::item( $post, $username, $sizes, $a['captions'] );
			}
		}
		$html .= '</ul></div>';
		return (string) apply_filters( 'igfeed_feed_html', $html, $feed, $a );
	}

	/**
	 * One post of the grid.
	 *
	 * @param array<string, mixed> $post     A post of the feed.
	 * @param string|null          $username The account's username.
	 * @param string               $sizes    The sizes attribute.
	 * @param bool                 $captions Whether to show the caption.
	 */
	private static function item( array $post, ?string $username, string $sizes, bool $captions ): string {
		$type      = self::str( $post, 'media_type' ) ?? 'IMAGE';
		$permalink = self::url( $post, 'permalink' );
		$image     = self::image( $post );
		$alt       = self::alt( $post, $username );
		$kind      = strtolower( preg_replace( '/[^A-Z_]/', '', $type ) );

		$html = '<li class="igfeed__item igfeed__item--' . esc_attr( $kind ) . '">';
		$html .= $permalink
			? '<a class="igfeed__link" href="' . esc_url( $permalink ) . '" rel="noopener">'
			: '<div class="igfeed__link">';
		if ( $image ) {
			$html .= '<img class="igfeed__image" src="' . esc_url( $image['src'] ) . '"';
			if ( $image['srcset'] ) {
				$html .= ' srcset="' . esc_attr( $image['srcset'] ) . '" sizes="' . esc_attr( $sizes ) . '"';
			}
			if ( $image['width'] && $image['height'] ) {
				$html .= ' width="' . (int) $image['width'] . '" height="' . (int) $image['height'] . '"';
			}
			$html .= ' alt="' . esc_attr( $alt ) . '" loading="lazy" decoding="async"';
			if ( $image['color'] ) {
				$html .= ' style="background-color:' . esc_attr( $image['color'] ) . '"';
			}
			$html .= ' />';
		} else {
			$html .= '<span class="igfeed__placeholder">' . esc_html( $alt ) . '</span>';
		}
		if ( 'VIDEO' === $type ) {
			$html .= '<span class="igfeed__badge igfeed__badge--video" aria-hidden="true"><svg viewBox="0 0 24 24" width="24" height="24" focusable="false"><path fill="currentColor" d="M8 5.5v13l11-6.5z"/></svg></span>';
			$html .= '<span class="igfeed__sr">' . esc_html__( '(video)', 'igfeed' ) . '</span>';
		} elseif ( 'CAROUSEL_ALBUM' === $type ) {
			$html .= '<span class="igfeed__badge igfeed__badge--album" aria-hidden="true"><svg viewBox="0 0 24 24" width="24" height="24" focusable="false"><path fill="currentColor" d="M7 3h12a2 2 0 0 1 2 2v12h-2V5H7zM3 7h12a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V9a2 2 0 0 1 2-2z"/></svg></span>';
			$html .= '<span class="igfeed__sr">' . esc_html__( '(album)', 'igfeed' ) . '</span>';
		}
		$html .= $permalink ? '</a>' : '</div>';
		$caption = self::str( $post, 'caption' );
		if ( $captions && $caption ) {
			$words = (int) apply_filters( 'igfeed_caption_words', 30 );
			$html .= '<p class="igfeed__caption">' . esc_html( self::words( $caption, max( 1, $words ) ) ) . '</p>';
		}
		return $html . '</li>';
	}

	/**
	 * The picture that stands for a post: display_url, else thumbnail_url,
	 * else media_url (never a video's media_url, which is the video itself),
	 * else the first child's; with srcset, size and colour when known.
	 *
	 * @param array<string, mixed> $post A post or a carousel child.
	 * @param bool                 $children Whether to fall back to the first child.
	 * @return array{src: string, srcset: string, width: ?int, height: ?int, color: ?string}|null
	 */
	public static function image( array $post, bool $children = true ): ?array {
		$is_video = 'VIDEO' === self::str( $post, 'media_type' );
		$src      = self::url( $post, 'display_url' ) ?? self::url( $post, 'thumbnail_url' ) ?? ( $is_video ? null : self::url( $post, 'media_url' ) );
		if ( null === $src ) {
			if ( $children && isset( $post['children'] ) && is_array( $post['children'] ) ) {
				foreach ( $post['children'] as $child ) {
					if ( is_array( $child ) ) {
						$image = self::image( $child, false );
						if ( $image ) {
							return $image;
						}
					}
				}
			}
			return null;
		}

		$width  = self::positive_int( $post, 'width' );
		$height = self::positive_int( $post, 'height' );
		$srcset = array();
		if ( isset( $post['sizes'] ) && is_array( $post['sizes'] ) ) {
			foreach ( $post['sizes'] as $w => $u ) {
				// igfeed never upscales: a variant wider than the picture is the picture.
				if ( is_numeric( $w ) && (int) $w > 0 && ( ! $width || (int) $w <= $width ) && is_string( $u ) && Igfeed_Settings::is_http_url( $u ) ) {
					$srcset[ (int) $w ] = esc_url_raw( $u ) . ' ' . (int) $w . 'w';
				}
			}
			if ( $srcset && $width && ! isset( $srcset[ $width ] ) ) {
				$srcset[ $width ] = esc_url_raw( $src ) . ' ' . $width . 'w';
			}
			ksort( $srcset );
		}
		$color  = self::str( $post, 'dominant_color' );
		return array(
			'src'    => $src,
			'srcset' => implode( ', ', $srcset ),
			'width'  => $width && $height ? $width : null,
			'height' => $width && $height ? $height : null,
			'color'  => ( $color && preg_match( '/^#[0-9a-fA-F]{6}$/', $color ) ) ? $color : null,
		);
	}

	/**
	 * Text alternative of a post's picture (it is also the link's name):
	 * alt_text, else the caption cut short, else who posted it and when.
	 *
	 * @param array<string, mixed> $post     A post.
	 * @param string|null          $username Username.
	 */
	public static function alt( array $post, ?string $username = null ): string {
		$alt = self::str( $post, 'alt_text' );
		if ( $alt ) {
			return $alt;
		}
		$caption = self::str( $post, 'caption' );
		if ( $caption ) {
			return self::chars( $caption, 125 );
		}
		$time = self::timestamp( $post );
		$date = $time ? wp_date( (string) get_option( 'date_format', 'F j, Y' ), $time ) : '';
		if ( $username && $date ) {
			/* translators: 1: username, 2: date */
			return sprintf( __( 'Instagram post by @%1$s on %2$s', 'igfeed' ), $username, $date );
		}
		return $date
			/* translators: %s: date */
			? sprintf( __( 'Instagram post on %s', 'igfeed' ), $date )
			: __( 'Instagram post', 'igfeed' );
	}

	/**
	 * The first $n words of plain text (Instagram captions are text: a "<"
	 * in one is shown, not taken for markup), with "…" when cut.
	 *
	 * @param string $text Text.
	 * @param int    $n    Words.
	 */
	public static function words( string $text, int $n ): string {
		$words = preg_split( '/\s+/u', trim( $text ), -1, PREG_SPLIT_NO_EMPTY );
		$words = is_array( $words ) ? $words : array();
		return count( $words ) > $n ? implode( ' ', array_slice( $words, 0, $n ) ) . '…' : implode( ' ', $words );
	}

	/**
	 * Plain text on one line, at most $n characters, with "…" when cut.
	 *
	 * @param string $text Text.
	 * @param int    $n    Characters.
	 */
	public static function chars( string $text, int $n ): string {
		$text = trim( (string) preg_replace( '/\s+/u', ' ', $text ) );
		return mb_strlen( $text ) > $n ? rtrim( mb_substr( $text, 0, $n - 1 ) ) . '…' : $text;
	}

	/**
	 * Unix time of a post's timestamp, or null.
	 *
	 * @param array<string, mixed> $post A post.
	 */
	public static function timestamp( array $post ): ?int {
		$ts = self::str( $post, 'timestamp' );
		if ( ! $ts ) {
			return null;
		}
		$time = strtotime( $ts );
		return false === $time ? null : $time;
	}

	/**
	 * A non-empty string field, or null.
	 *
	 * @param array<string, mixed> $a   Array.
	 * @param string               $key Key.
	 */
	public static function str( array $a, string $key ): ?string {
		return isset( $a[ $key ] ) && is_string( $a[ $key ] ) && '' !== trim( $a[ $key ] ) ? $a[ $key ] : null;
	}

	/**
	 * An http(s) URL field, or null.
	 *
	 * @param array<string, mixed> $a   Array.
	 * @param string               $key Key.
	 */
	public static function url( array $a, string $key ): ?string {
		$u = self::str( $a, $key );
		return $u && Igfeed_Settings::is_http_url( $u ) ? $u : null;
	}

	/**
	 * A positive integer field, or null.
	 *
	 * @param array<string, mixed> $a   Array.
	 * @param string               $key Key.
	 */
	public static function positive_int( array $a, string $key ): ?int {
		return isset( $a[ $key ] ) && is_int( $a[ $key ] ) && $a[ $key ] > 0 ? $a[ $key ] : null;
	}

	/**
	 * What is shown instead of a feed: an HTML comment, plus a visible
	 * notice for those who can edit posts.
	 *
	 * @param string $message Why.
	 */
	private static function problem( string $message ): string {
		$html = '<!-- igfeed: ' . esc_html( str_replace( '--', '- -', $message ) ) . ' -->';
		if ( current_user_can( 'edit_posts' ) ) {
			$html .= '<p class="igfeed igfeed--error" role="status">' . esc_html( 'igfeed: ' . $message ) . '</p>';
		}
		return $html;
	}
}

<?php
/**
 * Answers calls to graph.instagram.com that carry the igfeed placeholder
 * token from igfeed's feed, through `pre_http_request`, with Graph-shaped
 * JSON whose media URLs are igfeed's. This is how Bricks' own "Instagram
 * Feed" element shows an igfeed feed while WordPress holds no real token.
 *
 * Requests with any other token are not touched.
 *
 * @package igfeed
 */

defined( 'ABSPATH' ) || exit;

/**
 * A small stand-in for the Instagram Graph API's read calls.
 */
final class Igfeed_Graph {
	/** The token to put in Bricks' settings (the feed of the Bricks account). */
	const PLACEHOLDER = 'igfeed-placeholder';
	/** Hosts answered. */
	const HOSTS = array( 'graph.instagram.com' );
	/** Graph's default page size and its maximum. */
	const DEFAULT_LIMIT = 25;
	const MAX_LIMIT     = 100;
	/** What refresh_access_token reports as the placeholder's lifetime (60 days). */
	const EXPIRES_IN = 5184000;

	/** Hooks the interception. */
	public static function init(): void {
		add_filter( 'pre_http_request', array( __CLASS__, 'intercept' ), 10, 3 );
	}

	/**
	 * The account a token stands for: PLACEHOLDER is the Bricks account,
	 * PLACEHOLDER.{account} names one; null for any other token.
	 *
	 * @param string $token The access_token of a request.
	 */
	public static function account_for_token( string $token ): ?string {
		if ( self::PLACEHOLDER === $token ) {
			return Igfeed_Settings::bricks_account();
		}
		$prefix = self::PLACEHOLDER . '.';
		if ( str_starts_with( $token, $prefix ) ) {
			$account = substr( $token, strlen( $prefix ) );
			return Igfeed_Client::valid_account( $account ) ? $account : null;
		}
		return null;
	}

	/**
	 * pre_http_request: a Graph-shaped answer for placeholder requests to
	 * graph.instagram.com, else $pre untouched.
	 *
	 * @param false|array|WP_Error $pre  A previous filter's answer.
	 * @param array<string, mixed> $args Request arguments.
	 * @param string               $url  Request URL.
	 * @return false|array|WP_Error
	 */
	public static function intercept( $pre, $args, $url ) {
		if ( false !== $pre || ! is_string( $url ) ) {
			return $pre;
		}
		$parts = wp_parse_url( $url );
		if ( ! is_array( $parts ) || ! isset( $parts['host'] ) || ! in_array( strtolower( $parts['host'] ), self::HOSTS, true ) ) {
			return $pre;
		}
		$query = array();
		if ( isset( $parts['query'] ) ) {
			parse_str( $parts['query'], $query );
		}
		$token = is_string( $query['access_token'] ?? null ) ? $query['access_token'] : '';
		if ( '' === $token && is_array( $args['headers'] ?? null ) ) {
			foreach ( $args['headers'] as $name => $value ) {
				if ( 'authorization' === strtolower( (string) $name ) && is_string( $value ) && preg_match( '/^Bearer\s+(\S+)$/i', $value, $m ) ) {
					$token = $m[1];
				}
			}
		}
		$account = self::account_for_token( $token );
		if ( null === $account ) {
			return $pre;
		}
		$method = strtoupper( is_string( $args['method'] ?? null ) ? $args['method'] : 'GET' );
		$path   = trim( (string) ( $parts['path'] ?? '' ), '/' );
		$path   = (string) preg_replace( '#^v\d+(\.\d+)?/#', '', $path );
		$answer = self::answer( $method, $path, $query, $account, $token );
		return self::response( $answer[0], $answer[1] );
	}

	/**
	 * Status and JSON body of one Graph call.
	 *
	 * @param string               $method  HTTP method.
	 * @param string               $path    Path without version.
	 * @param array<string, mixed> $query   Query parameters.
	 * @param string               $account igfeed account.
	 * @param string               $token   The placeholder used.
	 * @return array{0: int, 1: array<string, mixed>}
	 */
	public static function answer( string $method, string $path, array $query, string $account, string $token ): array {
		if ( 'refresh_access_token' === $path ) {
			// Hands the placeholder back: whatever refreshes it keeps a placeholder.
			return array(
				200,
				array(
					'access_token' => $token,
					'token_type'   => 'bearer',
					'expires_in'   => self::EXPIRES_IN,
				),
			);
		}
		if ( 'GET' !== $method ) {
			return self::error( 400, 100, 'igfeed answers read calls only.' );
		}
		$feed = Igfeed_Client::get_feed( $account );
		if ( is_wp_error( $feed ) ) {
			$unknown = 'igfeed_unknown_account' === $feed->get_error_code();
			return self::error( $unknown ? 400 : 503, $unknown ? 100 : 2, $feed->get_error_message() );
		}
		$fields   = self::parse_fields( is_string( $query['fields'] ?? null ) ? $query['fields'] : '' );
		$segments = '' === $path ? array() : explode( '/', $path );
		$user     = is_array( $feed['user'] ?? null ) ? $feed['user'] : array();
		$user_id  = isset( $user['id'] ) && is_scalar( $user['id'] ) ? (string) $user['id'] : '';

		if ( 1 === count( $segments ) && ( 'me' === $segments[0] || ( '' !== $user_id && $user_id === $segments[0] ) ) ) {
			return array( 200, self::user( $feed, $fields ) );
		}
		if ( 2 === count( $segments ) && 'media' === $segments[1] && ( 'me' === $segments[0] || $user_id === $segments[0] ) ) {
			return array( 200, self::media_list( $feed, $fields, $query, $token ) );
		}
		$post = count( $segments ) >= 1 ? self::find( $feed, $segments[0] ) : null;
		if ( null === $post ) {
			return self::error( 400, 100, sprintf( "Unsupported get request. Object with ID '%s' does not exist.", $segments[0] ?? '' ) );
		}
		if ( 1 === count( $segments ) ) {
			return array( 200, self::media( $post, $fields ?: array( 'id' => true ), $user ) );
		}
		if ( 2 === count( $segments ) && 'children' === $segments[1] ) {
			$child_fields = $fields ?: array( 'id' => true );
			$children     = array();
			foreach ( is_array( $post['children'] ?? null ) ? $post['children'] : array() as $child ) {
				if ( is_array( $child ) ) {
					$children[] = self::media( $child, $child_fields, $user );
				}
			}
			return array( 200, array( 'data' => $children ) );
		}
		return self::error( 400, 100, 'Unsupported get request.' );
	}

	/**
	 * Graph's `fields` parameter as a tree: name => true, or name => subtree
	 * for `children{...}`.
	 *
	 * @param string $fields e.g. "id,caption,children{media_url,id}".
	 * @return array<string, mixed>
	 */
	public static function parse_fields( string $fields ): array {
		$out   = array();
		$depth = 0;
		$name  = '';
		$inner = '';
		$len   = strlen( $fields );
		for ( $i = 0; $i <= $len; $i++ ) {
			$ch = $i < $len ? $fields[ $i ] : ',';
			if ( '{' === $ch ) {
				if ( $depth > 0 ) {
					$inner .= $ch;
				}
				++$depth;
			} elseif ( '}' === $ch ) {
				--$depth;
				if ( $depth > 0 ) {
					$inner .= $ch;
				}
			} elseif ( ',' === $ch && 0 === $depth ) {
				$name = trim( $name );
				if ( '' !== $name ) {
					$out[ $name ] = '' !== trim( $inner ) ? self::parse_fields( $inner ) : true;
				}
				$name  = '';
				$inner = '';
			} elseif ( $depth > 0 ) {
				$inner .= $ch;
			} else {
				$name .= $ch;
			}
		}
		return $out;
	}

	/**
	 * GET /me.
	 *
	 * @param array<string, mixed> $feed   Feed.
	 * @param array<string, mixed> $fields Requested fields.
	 * @return array<string, mixed>
	 */
	private static function user( array $feed, array $fields ): array {
		$user  = is_array( $feed['user'] ?? null ) ? $feed['user'] : array();
		$total = isset( $feed['paging']['total'] ) && is_int( $feed['paging']['total'] ) ? $feed['paging']['total'] : count( $feed['data'] );
		$all   = array(
			'id'           => isset( $user['id'] ) && is_scalar( $user['id'] ) ? (string) $user['id'] : '',
			'username'     => Igfeed_Render::str( $user, 'username' ),
			'user_id'      => isset( $user['id'] ) && is_scalar( $user['id'] ) ? (string) $user['id'] : '',
			'account_type' => 'BUSINESS',
			'media_count'  => $total,
		);
		$out   = array();
		foreach ( array_keys( $fields ?: array( 'id' => true ) ) as $f ) {
			if ( array_key_exists( $f, $all ) && null !== $all[ $f ] ) {
				$out[ $f ] = $all[ $f ];
			}
		}
		$out['id'] = $all['id'];
		return $out;
	}

	/**
	 * GET /me/media, with limit and after/before cursors (offsets).
	 *
	 * @param array<string, mixed> $feed   Feed.
	 * @param array<string, mixed> $fields Requested fields.
	 * @param array<string, mixed> $query  Query parameters.
	 * @param string               $token  The placeholder (for the next link).
	 * @return array<string, mixed>
	 */
	private static function media_list( array $feed, array $fields, array $query, string $token ): array {
		$limit = isset( $query['limit'] ) && is_numeric( $query['limit'] ) && (int) $query['limit'] > 0
			? min( self::MAX_LIMIT, (int) $query['limit'] )
			: self::DEFAULT_LIMIT;
		$offset = 0;
		if ( isset( $query['after'] ) && is_string( $query['after'] ) ) {
			$offset = self::cursor_offset( $query['after'] ) + 1;
		}
		$posts  = array_slice( $feed['data'], $offset, $limit );
		$user   = is_array( $feed['user'] ?? null ) ? $feed['user'] : array();
		$fields = $fields ?: array( 'id' => true );
		$data   = array();
		foreach ( $posts as $post ) {
			$data[] = self::media( $post, $fields, $user );
		}
		$out = array( 'data' => $data );
		if ( $data ) {
			$last          = $offset + count( $data ) - 1;
			$out['paging'] = array(
				'cursors' => array(
					'before' => self::cursor( $offset ),
					'after'  => self::cursor( $last ),
				),
			);
			if ( $last + 1 < count( $feed['data'] ) ) {
				$out['paging']['next'] = add_query_arg(
					array(
						'fields'       => is_string( $query['fields'] ?? null ) ? rawurlencode( $query['fields'] ) : 'id',
						'limit'        => $limit,
						'after'        => self::cursor( $last ),
						'access_token' => rawurlencode( $token ),
					),
					'https://graph.instagram.com/me/media'
				);
			}
		}
		return $out;
	}

	/**
	 * A cursor for a position.
	 *
	 * @param int $offset Position.
	 */
	private static function cursor( int $offset ): string {
		return rtrim( base64_encode( 'igfeed:' . $offset ), '=' ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode -- an opaque cursor, as Graph's are.
	}

	/**
	 * The position of a cursor (-1 when it is not one of ours).
	 *
	 * @param string $cursor Cursor.
	 */
	private static function cursor_offset( string $cursor ): int {
		$raw = base64_decode( $cursor, true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode
		if ( is_string( $raw ) && preg_match( '/^igfeed:(\d+)$/', $raw, $m ) ) {
			return (int) $m[1];
		}
		return -1;
	}

	/**
	 * A post or child of the feed in Graph's shape, with only the requested
	 * fields (and id). Picture URLs are igfeed's: media_url is the picture
	 * for images and albums (display_url first) and the video for videos,
	 * thumbnail_url the video's picture.
	 *
	 * @param array<string, mixed> $post   Post or child.
	 * @param array<string, mixed> $fields Requested fields.
	 * @param array<string, mixed> $user   The feed's user.
	 * @return array<string, mixed>
	 */
	public static function media( array $post, array $fields, array $user ): array {
		$type = Igfeed_Render::str( $post, 'media_type' ) ?? 'IMAGE';
		$all  = array(
			'id'            => isset( $post['id'] ) && is_scalar( $post['id'] ) ? (string) $post['id'] : '',
			'media_type'    => $type,
			'caption'       => Igfeed_Render::str( $post, 'caption' ),
			'alt_text'      => Igfeed_Render::str( $post, 'alt_text' ),
			'permalink'     => Igfeed_Render::url( $post, 'permalink' ),
			'timestamp'     => Igfeed_Render::str( $post, 'timestamp' ),
			'username'      => Igfeed_Render::str( $user, 'username' ),
			'media_url'     => 'VIDEO' === $type
				? Igfeed_Render::url( $post, 'media_url' )
				: ( Igfeed_Render::url( $post, 'display_url' ) ?? Igfeed_Render::url( $post, 'media_url' ) ),
			'thumbnail_url' => 'VIDEO' === $type
				? ( Igfeed_Render::url( $post, 'display_url' ) ?? Igfeed_Render::url( $post, 'thumbnail_url' ) )
				: null,
		);
		if ( 'CAROUSEL_ALBUM' === $type && null === $all['media_url'] ) {
			$cover            = Igfeed_Render::image( $post );
			$all['media_url'] = $cover ? $cover['src'] : null;
		}
		$out = array();
		foreach ( $fields as $f => $sub ) {
			if ( 'children' === $f ) {
				if ( 'CAROUSEL_ALBUM' === $type && is_array( $post['children'] ?? null ) ) {
					$children = array();
					foreach ( $post['children'] as $child ) {
						if ( is_array( $child ) ) {
							$children[] = self::media( $child, is_array( $sub ) ? $sub : array( 'id' => true ), $user );
						}
					}
					$out['children'] = array( 'data' => $children );
				}
				continue;
			}
			if ( array_key_exists( $f, $all ) && null !== $all[ $f ] ) {
				$out[ $f ] = $all[ $f ];
			}
		}
		$out['id'] = $all['id'];
		return $out;
	}

	/**
	 * The post (or carousel child) with id $id.
	 *
	 * @param array<string, mixed> $feed Feed.
	 * @param string               $id   Id.
	 * @return array<string, mixed>|null
	 */
	private static function find( array $feed, string $id ): ?array {
		foreach ( $feed['data'] as $post ) {
			if ( isset( $post['id'] ) && (string) $post['id'] === $id ) {
				return $post;
			}
			foreach ( is_array( $post['children'] ?? null ) ? $post['children'] : array() as $child ) {
				if ( is_array( $child ) && isset( $child['id'] ) && (string) $child['id'] === $id ) {
					return $child;
				}
			}
		}
		return null;
	}

	/**
	 * A Graph-shaped error.
	 *
	 * @param int    $status  HTTP status.
	 * @param int    $code    Graph error code.
	 * @param string $message Message.
	 * @return array{0: int, 1: array<string, mixed>}
	 */
	private static function error( int $status, int $code, string $message ): array {
		return array(
			$status,
			array(
				'error' => array(
					'message' => $message,
					'type'    => 'IgfeedException',
					'code'    => $code,
				),
			),
		);
	}

	/**
	 * The array wp_remote_* functions read.
	 *
	 * @param int                  $status HTTP status.
	 * @param array<string, mixed> $body   JSON body.
	 * @return array<string, mixed>
	 */
	private static function response( int $status, array $body ): array {
		return array(
			'headers'  => array( 'content-type' => 'application/json; charset=UTF-8' ),
			'body'     => (string) wp_json_encode( $body, JSON_UNESCAPED_SLASHES ),
			'response' => array(
				'code'    => $status,
				'message' => get_status_header_desc( $status ),
			),
			'cookies'  => array(),
			'filename' => null,
		);
	}

	/**
	 * Drops what Bricks' Instagram element cached (transients named
	 * instagram_feed_* and instagram_carousel_children_*), so it shows a
	 * changed feed at once.
	 *
	 * @return int How many were dropped.
	 */
	public static function drop_bricks_cache(): int {
		global $wpdb;
		$dropped = 0;
		if ( ! wp_using_ext_object_cache() ) {
			$names = $wpdb->get_col( // phpcs:ignore WordPress.DB.DirectDatabaseQuery
				$wpdb->prepare(
					"SELECT option_name FROM {$wpdb->options} WHERE option_name LIKE %s OR option_name LIKE %s",
					$wpdb->esc_like( '_transient_instagram_feed_' ) . '%',
					$wpdb->esc_like( '_transient_instagram_carousel_children_' ) . '%'
				)
			);
			foreach ( (array) $names as $name ) {
				if ( delete_transient( substr( (string) $name, strlen( '_transient_' ) ) ) ) {
					++$dropped;
				}
			}
			return $dropped;
		}
		// An object cache cannot be listed: try the keys Bricks makes from
		// the placeholder, the post count and the cache duration.
		foreach ( array( self::PLACEHOLDER, self::PLACEHOLDER . '.' . Igfeed_Settings::bricks_account() ) as $token ) {
			for ( $n = 0; $n <= self::MAX_LIMIT; $n++ ) {
				foreach ( array( 1800, 3600, 86400, 604800 ) as $duration ) {
					if ( delete_transient( 'instagram_feed_' . md5( $token . $n . $duration ) ) ) {
						++$dropped;
					}
				}
			}
		}
		return $dropped;
	}
}

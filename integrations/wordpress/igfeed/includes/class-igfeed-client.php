<?php
/**
 * Reads feeds from igfeed: a transient while fresh, a conditional request
 * (If-None-Match) when not, and the last good copy when igfeed is down.
 *
 * @package igfeed
 */

defined( 'ABSPATH' ) || exit;

/**
 * The HTTP side of the plugin. Every request goes through wp_remote_get, so
 * `pre_http_request` can stand in for igfeed (the unit tests do).
 */
final class Igfeed_Client {
	/** Account names igfeed accepts. */
	const ACCOUNT_RE = '/^[a-z0-9][a-z0-9-]{0,39}$/';
	/** Media types igfeed filters on. */
	const TYPES = array( 'IMAGE', 'VIDEO', 'CAROUSEL_ALBUM' );
	/** The most posts the plugin ever shows of one feed. */
	const MAX_POSTS = 50;
	/** Which cache keys belong to which account (so a webhook can drop them). */
	const INDEX_OPTION = 'igfeed_cache_index';
	/** Seconds to wait before asking an unreachable igfeed again. */
	const RETRY_AFTER = 60;

	/**
	 * Whether $account is a valid igfeed account name.
	 *
	 * @param mixed $account Anything.
	 */
	public static function valid_account( $account ): bool {
		return is_string( $account ) && 1 === preg_match( self::ACCOUNT_RE, $account );
	}

	/**
	 * A media type filter in igfeed's form: known names, upper case, in a
	 * fixed order, comma separated; '' for all types. Unknown names are left
	 * out.
	 *
	 * @param mixed $type A comma list (any case, spaces allowed) or an array.
	 */
	public static function sanitize_types( $type ): string {
		if ( is_array( $type ) ) {
			$type = implode( ',', array_filter( $type, 'is_string' ) );
		}
		if ( ! is_string( $type ) ) {
			return '';
		}
		$aliases = array(
			'CAROUSEL' => 'CAROUSEL_ALBUM',
			'ALBUM'    => 'CAROUSEL_ALBUM',
			'PHOTO'    => 'IMAGE',
			'REEL'     => 'VIDEO',
		);
		$wanted  = array();
		foreach ( explode( ',', strtoupper( $type ) ) as $t ) {
			$t = trim( $t );
			$t = $aliases[ $t ] ?? $t;
			if ( in_array( $t, self::TYPES, true ) ) {
				$wanted[ $t ] = true;
			}
		}
		// All three is the same as none.
		if ( count( $wanted ) === count( self::TYPES ) ) {
			return '';
		}
		return implode( ',', array_values( array_filter( self::TYPES, static fn( $t ) => isset( $wanted[ $t ] ) ) ) );
	}

	/**
	 * The URL of one account's feed.
	 *
	 * @param string $account Valid account name.
	 * @param string $types   Sanitized type filter.
	 * @param int    $offset  Posts to skip (only for further pages).
	 */
	public static function feed_url( string $account, string $types = '', int $offset = 0 ): string {
		/**
		 * The feed's path on igfeed; `{account}` stands for the account.
		 *
		 * @param string $path    Default '/feeds/{account}'.
		 * @param string $account The account.
		 */
		$path  = (string) apply_filters( 'igfeed_feed_path', '/feeds/{account}', $account );
		$url   = Igfeed_Settings::base_url() . str_replace( '{account}', rawurlencode( $account ), $path );
		$query = array();
		if ( '' !== $types ) {
			$query['type'] = $types;
		}
		if ( $offset > 0 ) {
			$query['offset'] = $offset;
		}
		return $query ? add_query_arg( $query, $url ) : $url;
	}

	/**
	 * Arguments of every request to igfeed.
	 *
	 * @param array<string, string> $headers Extra headers.
	 * @return array<string, mixed>
	 */
	private static function http_args( array $headers = array() ): array {
		return (array) apply_filters(
			'igfeed_http_args',
			array(
				'timeout'     => Igfeed_Settings::timeout(),
				'redirection' => 2,
				'headers'     => array_merge( array( 'Accept' => 'application/json' ), $headers ),
				'user-agent'  => 'igfeed-wordpress/' . IGFEED_PLUGIN_VERSION . '; ' . home_url( '/' ),
			)
		);
	}

	/**
	 * The cache key of one account and type filter on the configured igfeed
	 * (so a new IGFEED_URL starts afresh).
	 *
	 * @param string $account Account.
	 * @param string $types   Sanitized type filter.
	 */
	public static function cache_key( string $account, string $types ): string {
		return 'igfeed_' . md5( Igfeed_Settings::base_url() . '|' . $account . '|' . $types );
	}

	/**
	 * One account's feed (every post igfeed keeps, up to MAX_POSTS, of the
	 * given types), as decoded JSON with two keys added: `igfeed_source`
	 * (cache, network, not-modified or last-good) and `igfeed_unreachable`
	 * (true when igfeed could not be asked and an older copy is shown).
	 *
	 * @param string $account Account name.
	 * @param string $types   Type filter (any form sanitize_types() takes).
	 * @return array<string, mixed>|WP_Error
	 */
	public static function get_feed( string $account, $types = '' ) {
		if ( ! self::valid_account( $account ) ) {
			return new WP_Error( 'igfeed_bad_account', __( 'Invalid igfeed account name.', 'igfeed' ) );
		}
		$types = self::sanitize_types( $types );
		$key   = self::cache_key( $account, $types );

		$cached = get_transient( $key );
		if ( is_array( $cached ) && isset( $cached['data'] ) ) {
			$cached['igfeed_source'] = $cached['igfeed_source'] ?? 'cache';
			if ( 'network' === $cached['igfeed_source'] || 'not-modified' === $cached['igfeed_source'] ) {
				$cached['igfeed_source'] = 'cache';
			}
			return $cached;
		}

		if ( '' === Igfeed_Settings::base_url() ) {
			return new WP_Error( 'igfeed_no_url', __( 'igfeed URL is not set (IGFEED_URL in wp-config.php or Settings → igfeed).', 'igfeed' ) );
		}

		self::remember_key( $account, $key );
		$last    = get_option( $key . '_last' );
		$last    = ( is_array( $last ) && isset( $last['feed']['data'] ) ) ? $last : null;
		$headers = array();
		if ( $last && ! empty( $last['etag'] ) ) {
			$headers['If-None-Match'] = $last['etag'];
		}

		$response = wp_remote_get( self::feed_url( $account, $types ), self::http_args( $headers ) );
		$code     = is_wp_error( $response ) ? 0 : (int) wp_remote_retrieve_response_code( $response );

		if ( 304 === $code && $last ) {
			$feed                  = $last['feed'];
			$feed['igfeed_source'] = 'not-modified';
			set_transient( $key, $feed, Igfeed_Settings::cache_ttl() );
			return $feed;
		}

		if ( 200 === $code ) {
			$feed = self::decode_feed( wp_remote_retrieve_body( $response ) );
			if ( $feed ) {
				$feed = self::complete_pages( $feed, $account, $types );
				$etag = (string) wp_remote_retrieve_header( $response, 'etag' );
				update_option(
					$key . '_last',
					array(
						'etag'      => $etag,
						'feed'      => $feed,
						'stored_at' => time(),
					),
					false
				);
				$feed['igfeed_source'] = 'network';
				set_transient( $key, $feed, Igfeed_Settings::cache_ttl() );
				return $feed;
			}
		}

		if ( 404 === $code ) {
			// igfeed answered: there is no such account. Nothing to show.
			delete_option( $key . '_last' );
			return new WP_Error( 'igfeed_unknown_account', sprintf( /* translators: %s: account */ __( 'igfeed has no account "%s".', 'igfeed' ), $account ), array( 'status' => 404 ) );
		}

		$why = is_wp_error( $response ) ? $response->get_error_message() : sprintf( 'HTTP %d', $code );
		if ( $last ) {
			$feed                       = $last['feed'];
			$feed['igfeed_source']      = 'last-good';
			$feed['igfeed_unreachable'] = true;
			// Ask again in a minute rather than on every page view.
			set_transient( $key, $feed, min( self::RETRY_AFTER, Igfeed_Settings::cache_ttl() ) );
			return $feed;
		}
		return new WP_Error( 'igfeed_unreachable', sprintf( /* translators: %s: reason */ __( 'igfeed could not be read: %s', 'igfeed' ), $why ) );
	}

	/**
	 * The feed in $body when it has the expected shape, else null.
	 *
	 * @param string $body Response body.
	 * @return array<string, mixed>|null
	 */
	public static function decode_feed( string $body ): ?array {
		$feed = json_decode( $body, true );
		if ( ! is_array( $feed ) || ! isset( $feed['data'] ) || ! is_array( $feed['data'] ) ) {
			return null;
		}
		$feed['data'] = array_values(
			array_filter(
				$feed['data'],
				static fn( $p ) => is_array( $p ) && isset( $p['id'] ) && is_scalar( $p['id'] )
			)
		);
		$feed['user'] = isset( $feed['user'] ) && is_array( $feed['user'] ) ? $feed['user'] : array();
		unset( $feed['igfeed_source'], $feed['igfeed_unreachable'] );
		return $feed;
	}

	/**
	 * Follows `paging` when igfeed answered only part of the feed, up to
	 * MAX_POSTS posts.
	 *
	 * @param array<string, mixed> $feed    First page.
	 * @param string               $account Account.
	 * @param string               $types   Type filter.
	 * @return array<string, mixed>
	 */
	private static function complete_pages( array $feed, string $account, string $types ): array {
		for ( $i = 0; $i < 5; $i++ ) {
			$have  = count( $feed['data'] );
			$total = isset( $feed['paging']['total'] ) && is_numeric( $feed['paging']['total'] ) ? (int) $feed['paging']['total'] : 0;
			if ( $have >= min( $total, self::MAX_POSTS ) ) {
				break;
			}
			$response = wp_remote_get( self::feed_url( $account, $types, $have ), self::http_args() );
			if ( is_wp_error( $response ) || 200 !== (int) wp_remote_retrieve_response_code( $response ) ) {
				break;
			}
			$next = self::decode_feed( wp_remote_retrieve_body( $response ) );
			if ( ! $next || ! $next['data'] ) {
				break;
			}
			$feed['data'] = array_merge( $feed['data'], $next['data'] );
		}
		$feed['data'] = array_slice( $feed['data'], 0, self::MAX_POSTS );
		return $feed;
	}

	/**
	 * Public token status of an account (`GET /tokens/{account}`): never the
	 * token itself.
	 *
	 * @param string $account Account.
	 * @return array<string, mixed>|WP_Error
	 */
	public static function token_status( string $account ) {
		if ( ! self::valid_account( $account ) || '' === Igfeed_Settings::base_url() ) {
			return new WP_Error( 'igfeed_bad_account', __( 'Invalid account or no igfeed URL.', 'igfeed' ) );
		}
		$response = wp_remote_get( Igfeed_Settings::base_url() . '/tokens/' . rawurlencode( $account ), self::http_args() );
		if ( is_wp_error( $response ) ) {
			return $response;
		}
		$code = (int) wp_remote_retrieve_response_code( $response );
		$body = json_decode( wp_remote_retrieve_body( $response ), true );
		if ( 200 !== $code || ! is_array( $body ) ) {
			return new WP_Error( 'igfeed_status', sprintf( 'HTTP %d', $code ) );
		}
		unset( $body['access_token'], $body['token'] );
		return $body;
	}

	/**
	 * Records that $key caches a feed of $account.
	 *
	 * @param string $account Account.
	 * @param string $key     Cache key.
	 */
	private static function remember_key( string $account, string $key ): void {
		$index = get_option( self::INDEX_OPTION, array() );
		$index = is_array( $index ) ? $index : array();
		if ( isset( $index[ $account ][ $key ] ) ) {
			return;
		}
		$index[ $account ][ $key ] = true;
		update_option( self::INDEX_OPTION, $index, false );
	}

	/**
	 * Drops the fresh cached copies of one account's feeds, so the next page
	 * view asks igfeed (with If-None-Match, so an unchanged feed costs a 304).
	 * The last good copies stay, for when igfeed is down.
	 *
	 * @param string $account Account.
	 * @return int How many cached copies were dropped.
	 */
	public static function drop( string $account ): int {
		$index   = get_option( self::INDEX_OPTION, array() );
		$dropped = 0;
		foreach ( array_keys( is_array( $index ) && isset( $index[ $account ] ) && is_array( $index[ $account ] ) ? $index[ $account ] : array() ) as $key ) {
			if ( delete_transient( $key ) ) {
				++$dropped;
			}
		}
		return $dropped;
	}

	/**
	 * Drops every cached copy, last good ones too (the settings page's button
	 * and uninstall).
	 */
	public static function drop_all(): void {
		$index = get_option( self::INDEX_OPTION, array() );
		foreach ( is_array( $index ) ? $index : array() as $keys ) {
			foreach ( array_keys( is_array( $keys ) ? $keys : array() ) as $key ) {
				delete_transient( $key );
				delete_option( $key . '_last' );
			}
		}
		delete_option( self::INDEX_OPTION );
	}
}

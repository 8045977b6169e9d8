<?php
/**
 * Fetching, caching, conditional requests and the last good copy.
 *
 * @package igfeed
 */

/**
 * Igfeed_Client against a stubbed igfeed.
 */
final class ClientTest extends Igfeed_TestCase {

	public function test_fetches_the_account_feed_once_then_serves_the_transient(): void {
		$this->responder = fn() => array( 200, self::fixture(), array( 'ETag' => '"v1"', 'Content-Type' => 'application/json' ) );
		$feed            = Igfeed_Client::get_feed( 'default' );
		$this->assertSame( 'network', $feed['igfeed_source'] );
		$this->assertCount( 6, $feed['data'] );
		$this->assertSame( 'example', $feed['user']['username'] );
		$this->assertCount( 1, $this->requests );
		$this->assertSame( self::feed_url(), $this->requests[0]['url'] );
		$this->assertArrayNotHasKey( 'If-None-Match', $this->requests[0]['headers'] );
		$this->assertSame( 'application/json', $this->requests[0]['headers']['Accept'] );

		$again = Igfeed_Client::get_feed( 'default' );
		$this->assertSame( 'cache', $again['igfeed_source'] );
		$this->assertCount( 1, $this->requests, 'the transient answered' );
	}

	public function test_the_timeout_is_short(): void {
		$seen = null;
		$this->hook(
			'pre_http_request',
			function ( $pre, $args ) use ( &$seen ) {
				$seen = $args['timeout'];
				return $pre;
			},
			0,
			2
		);
		Igfeed_Client::get_feed( 'default' );
		$this->assertSame( 3, $seen );
	}

	public function test_revalidates_with_if_none_match_and_uses_the_copy_on_304(): void {
		$this->responder = fn() => array( 200, self::fixture(), array( 'ETag' => '"v1"' ) );
		Igfeed_Client::get_feed( 'default' );
		Igfeed_Client::drop( 'default' );

		$this->responder = fn( $url, $args ) => ( $args['headers']['If-None-Match'] ?? '' ) === '"v1"' ? array( 304, '' ) : array( 500, '' );
		$feed            = Igfeed_Client::get_feed( 'default' );
		$this->assertSame( 'not-modified', $feed['igfeed_source'] );
		$this->assertCount( 6, $feed['data'] );
		$this->assertSame( '"v1"', $this->requests[1]['headers']['If-None-Match'] );
		$this->assertSame( 'cache', Igfeed_Client::get_feed( 'default' )['igfeed_source'] );
	}

	public function test_keeps_the_last_good_copy_when_igfeed_is_unreachable(): void {
		Igfeed_Client::get_feed( 'default' );
		Igfeed_Client::drop( 'default' );
		foreach ( array(
			'refused' => fn() => new WP_Error( 'http_request_failed', 'cURL error 7: Failed to connect' ),
			'500'     => fn() => array( 500, 'oops' ),
			'502'     => fn() => array( 502, '<html>bad gateway</html>', array( 'content-type' => 'text/html' ) ),
			'garbage' => fn() => array( 200, '{"data": "not a list"}' ),
			'html'    => fn() => array( 200, '<!doctype html>' ),
		) as $case => $responder ) {
			Igfeed_Client::drop( 'default' );
			$this->responder = $responder;
			$feed            = Igfeed_Client::get_feed( 'default' );
			$this->assertIsArray( $feed, $case );
			$this->assertSame( 'last-good', $feed['igfeed_source'], $case );
			$this->assertTrue( $feed['igfeed_unreachable'], $case );
			$this->assertCount( 6, $feed['data'], $case );
			// Not asked again on the next view: the copy is cached for a minute.
			$count = count( $this->requests );
			Igfeed_Client::get_feed( 'default' );
			$this->assertCount( $count, $this->requests, $case );
		}
		$html = do_shortcode( '[igfeed]' );
		$this->assertStringContainsString( 'igfeed--stale', $html );
		$this->assertSame( 6, self::dom( $html )->query( '//li' )->length );
	}

	public function test_an_error_without_a_copy(): void {
		$this->responder = fn() => new WP_Error( 'http_request_failed', 'cURL error 7: Failed to connect' );
		$feed            = Igfeed_Client::get_feed( 'default' );
		$this->assertWPError( $feed, 'igfeed_unreachable' );
		$this->assertStringContainsString( 'Failed to connect', $feed->get_error_message() );
		$this->assertStringStartsWith( '<!-- igfeed: igfeed could not be read', do_shortcode( '[igfeed]' ) );
	}

	public function test_unknown_account_is_an_error_and_forgets_the_copy(): void {
		Igfeed_Client::get_feed( 'gone' );
		Igfeed_Client::drop( 'gone' );
		$this->responder = fn() => array( 404, '{"title":"Not Found","status":404}' );
		$this->assertWPError( Igfeed_Client::get_feed( 'gone' ), 'igfeed_unknown_account' );
		$this->assertFalse( get_option( Igfeed_Client::cache_key( 'gone', '' ) . '_last' ) );
	}

	public function test_follows_paging_up_to_fifty_posts(): void {
		$page            = function ( int $offset, int $count, int $total ) {
			return wp_json_encode(
				self::feed(
					function ( $f ) use ( $offset, $count, $total ) {
						$post = $f['data'][0];
						$f['data'] = array();
						for ( $i = 0; $i < $count; $i++ ) {
							$f['data'][] = array_merge( $post, array( 'id' => (string) ( 1000 + $offset + $i ) ) );
						}
						$f['paging'] = array( 'total' => $total, 'offset' => $offset, 'limit' => 25 );
						return $f;
					}
				)
			);
		};
		$this->responder = function ( $url ) use ( $page ) {
			parse_str( (string) wp_parse_url( $url, PHP_URL_QUERY ), $q );
			$offset = (int) ( $q['offset'] ?? 0 );
			return array( 200, $page( $offset, min( 25, 80 - $offset ), 80 ) );
		};
		$feed = Igfeed_Client::get_feed( 'default' );
		$this->assertCount( 50, $feed['data'] );
		$this->assertSame( '1049', $feed['data'][49]['id'] );
		$this->assertCount( 2, $this->requests );
		$this->assertStringEndsWith( '?offset=25', $this->requests[1]['url'] );
	}

	public function test_drop_touches_one_account_only(): void {
		Igfeed_Client::get_feed( 'default' );
		Igfeed_Client::get_feed( 'default', 'VIDEO' );
		Igfeed_Client::get_feed( 'shop' );
		$this->assertSame( 2, Igfeed_Client::drop( 'default' ) );
		$this->assertFalse( get_transient( Igfeed_Client::cache_key( 'default', '' ) ) );
		$this->assertFalse( get_transient( Igfeed_Client::cache_key( 'default', 'VIDEO' ) ) );
		$this->assertIsArray( get_transient( Igfeed_Client::cache_key( 'shop', '' ) ) );
		// The last good copies stay.
		$this->assertIsArray( get_option( Igfeed_Client::cache_key( 'default', '' ) . '_last' ) );
	}

	public function test_no_url_no_request(): void {
		$this->hook( 'igfeed_base_url', fn() => 'ftp://nope', 10 );
		$this->assertSame( '', Igfeed_Settings::base_url() );
		$this->assertWPError( Igfeed_Client::get_feed( 'default' ), 'igfeed_no_url' );
		$this->assertCount( 0, $this->requests );
	}

	public function test_token_status_never_returns_a_token(): void {
		$this->responder = fn( $url ) => array(
			200,
			wp_json_encode(
				array(
					'account'         => 'default',
					'status'          => 'valid',
					'user'            => array( 'id' => '1', 'username' => 'example' ),
					'expires_at'      => '2027-01-29T14:03:50Z',
					'refreshed_at'    => null,
					'next_refresh_at' => '2026-12-07T14:03:50Z',
					'access_token'    => 'IGQ-should-never-be-here',
				)
			),
		);
		$status          = Igfeed_Client::token_status( 'default' );
		$this->assertSame( 'valid', $status['status'] );
		$this->assertArrayNotHasKey( 'access_token', $status );
		$this->assertSame( Igfeed_Settings::base_url() . '/tokens/default', $this->requests[0]['url'] );
	}

	/**
	 * Asserts a WP_Error with a code.
	 *
	 * @param mixed  $value Value.
	 * @param string $code  Error code.
	 */
	private function assertWPError( $value, string $code ): void {
		$this->assertInstanceOf( WP_Error::class, $value );
		$this->assertSame( $code, $value->get_error_code() );
	}
}

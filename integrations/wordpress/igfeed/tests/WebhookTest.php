<?php
/**
 * POST /wp-json/igfeed/v1/webhook.
 *
 * @package igfeed
 */

/**
 * Signature checks, cache drop and the igfeed_feed_updated action.
 */
final class WebhookTest extends Igfeed_TestCase {
	const SECRET = 'unit-test-secret';
	const BODY   = '{"event":"feed.updated","account":"default","added":["17900000000000060"],"removed":["17900000000000050"],"fetched_at":"2026-11-28T12:00:00Z"}';

	/** @var array<int, array<int, mixed>> */
	private array $fired = array();

	protected function setUp(): void {
		parent::setUp();
		$this->hook( 'igfeed_webhook_secret', fn() => self::SECRET, 10 );
		$this->fired = array();
		$this->hook(
			'igfeed_feed_updated',
			function ( ...$args ) {
				$this->fired[] = $args;
			},
			10,
			2
		);
	}

	private function post( string $body, ?string $signature ): WP_REST_Response {
		$request = new WP_REST_Request( 'POST', '/igfeed/v1/webhook' );
		$request->set_header( 'Content-Type', 'application/json' );
		$request->set_header( 'X-Igfeed-Event', 'feed.updated' );
		if ( null !== $signature ) {
			$request->set_header( 'X-Igfeed-Signature', $signature );
		}
		$request->set_body( $body );
		return rest_do_request( $request );
	}

	private static function sign( string $body, string $secret = self::SECRET ): string {
		return 'sha256=' . hash_hmac( 'sha256', $body, $secret );
	}

	public function test_route_is_registered_for_post_only(): void {
		$routes = rest_get_server()->get_routes();
		$this->assertArrayHasKey( '/igfeed/v1/webhook', $routes );
		$this->assertSame( array( 'POST' => true ), $routes['/igfeed/v1/webhook'][0]['methods'] );
	}

	public function test_good_signature_drops_the_cache_and_fires_the_action(): void {
		Igfeed_Client::get_feed( 'default' );
		Igfeed_Client::get_feed( 'other' );
		$response = $this->post( self::BODY, self::sign( self::BODY ) );
		$this->assertSame( 200, $response->get_status() );
		$this->assertSame( 'default', $response->get_data()['account'] );
		$this->assertFalse( get_transient( Igfeed_Client::cache_key( 'default', '' ) ) );
		$this->assertIsArray( get_transient( Igfeed_Client::cache_key( 'other', '' ) ) );
		$this->assertCount( 1, $this->fired );
		$this->assertSame( 'default', $this->fired[0][0] );
		$this->assertSame( array( '17900000000000060' ), $this->fired[0][1]['added'] );
		// Upper-case hex is the same signature.
		$upper = 'sha256=' . strtoupper( substr( self::sign( self::BODY ), 7 ) );
		$this->assertSame( 200, $this->post( self::BODY, $upper )->get_status() );
	}

	public function test_missing_or_bad_signatures_are_401_and_keep_the_cache(): void {
		Igfeed_Client::get_feed( 'default' );
		$cases = array(
			'missing'        => null,
			'empty'          => '',
			'no prefix'      => hash_hmac( 'sha256', self::BODY, self::SECRET ),
			'sha1'           => 'sha1=' . hash_hmac( 'sha1', self::BODY, self::SECRET ),
			'other secret'   => self::sign( self::BODY, 'another' ),
			'other body'     => self::sign( self::BODY . ' ' ),
			'truncated'      => substr( self::sign( self::BODY ), 0, -2 ),
		);
		foreach ( $cases as $case => $signature ) {
			$response = $this->post( self::BODY, $signature );
			$this->assertSame( 401, $response->get_status(), $case );
		}
		$this->assertIsArray( get_transient( Igfeed_Client::cache_key( 'default', '' ) ) );
		$this->assertCount( 0, $this->fired );
	}

	public function test_without_a_secret_every_webhook_is_refused(): void {
		$this->hook( 'igfeed_webhook_secret', fn() => '', 20 );
		$response = $this->post( self::BODY, self::sign( self::BODY ) );
		$this->assertSame( 403, $response->get_status() );
		$this->assertSame( 'igfeed_webhook_disabled', $response->get_data()['code'] );
		$response = $this->post( self::BODY, self::sign( self::BODY, '' ) );
		$this->assertSame( 403, $response->get_status() );
		$this->assertCount( 0, $this->fired );
	}

	public function test_signed_but_unusable_events(): void {
		$other = '{"event":"token.refreshed","account":"default"}';
		$this->assertSame( 202, $this->post( $other, self::sign( $other ) )->get_status() );
		$bad = '{"event":"feed.updated","account":"../etc"}';
		$this->assertSame( 400, $this->post( $bad, self::sign( $bad ) )->get_status() );
		$list = '[1,2]';
		$this->assertSame( 400, $this->post( $list, self::sign( $list ) )->get_status() );
		$this->assertCount( 0, $this->fired );
	}
}

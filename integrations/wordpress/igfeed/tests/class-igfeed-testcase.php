<?php
/**
 * Base of the plugin's tests: answers requests to igfeed with canned
 * contract JSON through pre_http_request and records them.
 *
 * @package igfeed
 */

use PHPUnit\Framework\TestCase;

/**
 * Shared fixtures and an igfeed stand-in.
 */
abstract class Igfeed_TestCase extends TestCase {
	/**
	 * Requests that reached the stub: url, headers, method.
	 *
	 * @var array<int, array<string, mixed>>
	 */
	protected array $requests = array();

	/**
	 * Answers by URL path: callable( string $url, array $args ): array{0:int,1:string,2?:array}|WP_Error.
	 *
	 * @var callable|null
	 */
	protected $responder = null;

	/** The stub's filter callback. */
	private $stub;

	/** Callbacks to remove in tearDown: [hook, callback, priority]. */
	private array $added = array();

	protected function setUp(): void {
		parent::setUp();
		Igfeed_Client::drop_all();
		delete_option( Igfeed_Settings::OPTION );
		$this->requests = array();
		$this->stub     = function ( $pre, $args, $url ) {
			if ( 0 !== strpos( $url, Igfeed_Settings::base_url() . '/' ) ) {
				return $pre;
			}
			$this->requests[] = array(
				'url'     => $url,
				'headers' => $args['headers'] ?? array(),
			);
			$answer = $this->responder ? call_user_func( $this->responder, $url, $args ) : array( 200, self::fixture() );
			if ( is_wp_error( $answer ) ) {
				return $answer;
			}
			return array(
				'headers'  => array_change_key_case( $answer[2] ?? array( 'content-type' => 'application/json' ) ),
				'body'     => $answer[1],
				'response' => array(
					'code'    => $answer[0],
					'message' => get_status_header_desc( $answer[0] ),
				),
				'cookies'  => array(),
				'filename' => null,
			);
		};
		// Before the plugin's own pre_http_request filter (priority 10).
		$this->hook( 'pre_http_request', $this->stub, 1, 3 );
		// The contract's path, whatever the test site is set to.
		$this->hook( 'igfeed_feed_path', static fn() => '/feeds/{account}', 99 );
	}

	protected function tearDown(): void {
		foreach ( $this->added as $h ) {
			remove_filter( $h[0], $h[1], $h[2] );
		}
		$this->added     = array();
		$this->responder = null;
		Igfeed_Client::drop_all();
		delete_option( Igfeed_Settings::OPTION );
		Igfeed_Bricks::set_current( null );
		wp_set_current_user( 0 );
		parent::tearDown();
	}

	/**
	 * Adds a filter removed after the test.
	 *
	 * @param string   $hook     Hook.
	 * @param callable $callback Callback.
	 * @param int      $priority Priority.
	 * @param int      $args     Accepted args.
	 */
	protected function hook( string $hook, $callback, int $priority = 10, int $args = 1 ): void {
		add_filter( $hook, $callback, $priority, $args );
		$this->added[] = array( $hook, $callback, $priority );
	}

	/** The contract feed fixture as JSON. */
	protected static function fixture(): string {
		return (string) file_get_contents( __DIR__ . '/fixtures/feed.json' );
	}

	/**
	 * The fixture decoded, optionally changed.
	 *
	 * @param callable|null $change Gets and returns the decoded feed.
	 * @return array<string, mixed>
	 */
	protected static function feed( ?callable $change = null ): array {
		$feed = json_decode( self::fixture(), true );
		return $change ? $change( $feed ) : $feed;
	}

	/** URL of the default account's feed, as the plugin asks for it. */
	protected static function feed_url( string $account = 'default' ): string {
		return Igfeed_Settings::base_url() . '/feeds/' . $account;
	}

	/**
	 * Parses rendered HTML.
	 *
	 * @param string $html Markup.
	 */
	protected static function dom( string $html ): DOMXPath {
		$doc = new DOMDocument();
		libxml_use_internal_errors( true );
		$doc->loadHTML( '<?xml encoding="utf-8"?><body>' . $html . '</body>' );
		libxml_clear_errors();
		return new DOMXPath( $doc );
	}

	/** A user with a role, logged in. */
	protected function login( string $role ): int {
		$login = 'igfeed_' . $role;
		$user  = get_user_by( 'login', $login );
		$id    = $user ? $user->ID : wp_insert_user(
			array(
				'user_login' => $login,
				'user_pass'  => wp_generate_password(),
				'role'       => $role,
			)
		);
		wp_set_current_user( $id );
		return $id;
	}
}

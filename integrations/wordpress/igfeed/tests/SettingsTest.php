<?php
/**
 * Settings page, option sanitizing and capabilities.
 *
 * @package igfeed
 */

/**
 * Igfeed_Settings.
 */
final class SettingsTest extends Igfeed_TestCase {

	public static function setUpBeforeClass(): void {
		// The Settings API lives in wp-admin.
		require_once ABSPATH . 'wp-admin/includes/template.php';
		require_once ABSPATH . 'wp-admin/includes/plugin.php';
	}

	public function test_sanitize_keeps_good_values_and_refuses_bad_ones(): void {
		$clean = Igfeed_Settings::sanitize(
			array(
				'url'            => ' https://feeds.example.com/ ',
				'cache_ttl'      => '5',
				'timeout'        => '60',
				'bricks_account' => 'Brand-1',
				'unexpected'     => 'dropped',
			)
		);
		$this->assertSame( 'https://feeds.example.com', $clean['url'] );
		$this->assertSame( 30, $clean['cache_ttl'] );
		$this->assertSame( 10, $clean['timeout'] );
		$this->assertSame( 'brand-1', $clean['bricks_account'] );
		$this->assertArrayNotHasKey( 'unexpected', $clean );

		update_option( Igfeed_Settings::OPTION, $clean );
		$again = Igfeed_Settings::sanitize( array( 'url' => 'javascript:alert(1)', 'bricks_account' => 'no good!' ) );
		$this->assertSame( 'https://feeds.example.com', $again['url'] );
		$this->assertSame( 'brand-1', $again['bricks_account'] );
		$codes = wp_list_pluck( get_settings_errors( Igfeed_Settings::OPTION ), 'code' );
		$this->assertContains( 'igfeed_url', $codes );
		$this->assertContains( 'igfeed_bricks_account', $codes );
		$this->assertSame( '', Igfeed_Settings::sanitize( array( 'url' => '' ) )['url'] );
	}

	public function test_the_constant_wins_over_the_option(): void {
		$this->assertTrue( defined( 'IGFEED_URL' ), 'the test site defines IGFEED_URL' );
		update_option( Igfeed_Settings::OPTION, array( 'url' => 'https://elsewhere.example.com' ) );
		$this->assertTrue( Igfeed_Settings::url_from_constant() );
		$this->assertSame( untrailingslashit( IGFEED_URL ), Igfeed_Settings::base_url() );
	}

	public function test_setting_is_registered_for_the_settings_api(): void {
		Igfeed_Settings::register();
		$registered = get_registered_settings();
		$this->assertArrayHasKey( Igfeed_Settings::OPTION, $registered );
		$this->assertSame( 'igfeed', $registered[ Igfeed_Settings::OPTION ]['group'] );
		$this->assertFalse( $registered[ Igfeed_Settings::OPTION ]['show_in_rest'] );
	}

	public function test_page_for_admins_only_with_nonces_and_no_token(): void {
		Igfeed_Settings::register();
		$this->responder = fn( $url ) => false !== strpos( $url, '/tokens/' )
			? array( 200, '{"account":"default","status":"valid","user":{"id":"1","username":"example"},"expires_at":"2027-01-29T14:03:50Z","refreshed_at":null,"next_refresh_at":"2026-12-07T14:03:50Z"}' )
			: array( 200, self::fixture() );

		$this->login( 'subscriber' );
		ob_start();
		Igfeed_Settings::page();
		$this->assertSame( '', ob_get_clean() );

		$this->login( 'administrator' );
		$GLOBALS['title'] = 'igfeed'; // phpcs:ignore WordPress.WP.GlobalVariablesOverride -- what wp-admin sets for the page.
		ob_start();
		Igfeed_Settings::page();
		$html = ob_get_clean();
		$this->assertMatchesRegularExpression( '/name=.option_page. value=.igfeed./', $html );
		$this->assertMatchesRegularExpression( '/name="_wpnonce" value="[0-9a-f]{10}"/', $html );
		$this->assertStringContainsString( 'name="action" value="igfeed_clear_cache"', $html );
		$this->assertStringContainsString( 'Set by the IGFEED_URL constant', $html );
		$this->assertStringContainsString( '<td>valid</td>', $html );
		$this->assertStringContainsString( '<td>@example</td>', $html );
		$this->assertStringContainsString( 'igfeed-placeholder', $html );
		$this->assertStringContainsString( rest_url( 'igfeed/v1/webhook' ), $html );
		$this->assertStringNotContainsStringIgnoringCase( 'IGQ', $html );
	}

	public function test_clear_cache_needs_the_capability_and_the_nonce(): void {
		Igfeed_Client::get_feed( 'default' );
		$this->hook(
			'wp_die_handler',
			fn() => static function ( $message ) {
				throw new RuntimeException( is_string( $message ) ? $message : 'died' );
			},
			10
		);
		$this->login( 'editor' );
		try {
			Igfeed_Settings::clear_cache();
			$this->fail( 'an editor cleared the cache' );
		} catch ( RuntimeException $e ) {
			$this->assertStringContainsString( 'not allowed', $e->getMessage() );
		}
		$this->login( 'administrator' );
		$_REQUEST['_wpnonce'] = 'bad';
		try {
			Igfeed_Settings::clear_cache();
			$this->fail( 'cleared without a valid nonce' );
		} catch ( RuntimeException $e ) {
			$this->assertIsArray( get_transient( Igfeed_Client::cache_key( 'default', '' ) ) );
		} finally {
			unset( $_REQUEST['_wpnonce'] );
		}
	}
}

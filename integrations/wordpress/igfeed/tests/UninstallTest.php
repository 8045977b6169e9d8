<?php
/**
 * uninstall.php removes what the plugin stored.
 *
 * @package igfeed
 */

/**
 * Uninstall.
 */
final class UninstallTest extends Igfeed_TestCase {

	public function test_uninstall_removes_options_and_cached_feeds(): void {
		update_option( Igfeed_Settings::OPTION, array( 'cache_ttl' => 600 ) );
		Igfeed_Client::get_feed( 'default' );
		Igfeed_Client::get_feed( 'shop', 'VIDEO' );
		$keys = array( Igfeed_Client::cache_key( 'default', '' ), Igfeed_Client::cache_key( 'shop', 'VIDEO' ) );
		foreach ( $keys as $key ) {
			$this->assertIsArray( get_transient( $key ) );
			$this->assertIsArray( get_option( $key . '_last' ) );
		}

		if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
			define( 'WP_UNINSTALL_PLUGIN', 'igfeed/igfeed.php' );
		}
		include WP_PLUGIN_DIR . '/igfeed/uninstall.php';

		foreach ( $keys as $key ) {
			$this->assertFalse( get_transient( $key ) );
			$this->assertFalse( get_option( $key . '_last' ) );
		}
		$this->assertFalse( get_option( Igfeed_Client::INDEX_OPTION ) );
		$this->assertSame( 'gone', get_option( Igfeed_Settings::OPTION, 'gone' ) );
	}
}

<?php
/**
 * Removes the plugin's options and cached feeds.
 *
 * @package igfeed
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

$igfeed_index = get_option( 'igfeed_cache_index', array() );
foreach ( is_array( $igfeed_index ) ? $igfeed_index : array() as $igfeed_keys ) {
	foreach ( array_keys( is_array( $igfeed_keys ) ? $igfeed_keys : array() ) as $igfeed_key ) {
		delete_transient( $igfeed_key );
		delete_option( $igfeed_key . '_last' );
	}
}
delete_option( 'igfeed_cache_index' );
delete_option( 'igfeed_settings' );

<?php
/**
 * Loads the WordPress named by WP_LOAD (a real install with igfeed active)
 * for the plugin's PHPUnit tests. Requests to igfeed are answered by
 * pre_http_request stubs in the tests, so no igfeed needs to run.
 *
 * @package igfeed
 */

$igfeed_wp_load = getenv( 'WP_LOAD' );
if ( ! $igfeed_wp_load || ! is_file( $igfeed_wp_load ) ) {
	fwrite( STDERR, "Set WP_LOAD to the wp-load.php of a WordPress with the igfeed plugin active.\n" );
	exit( 1 );
}

// WordPress expects its globals at file scope; PHPUnit includes this file
// from inside a method.
// phpcs:disable WordPress.WP.GlobalVariablesOverride
global $wpdb, $wp_rewrite, $wp, $wp_query, $wp_the_query, $table_prefix, $wp_version, $wp_db_version,
	$wp_filter, $wp_actions, $wp_current_filter, $wp_roles, $wp_locale, $shortcode_tags, $wp_embed,
	$wp_widget_factory, $wp_object_cache, $pagenow, $post, $current_user, $wp_plugin_paths,
	$wp_theme_directories, $wp_scripts, $wp_styles, $allowedposttags, $allowedtags, $wp_post_types;

$_SERVER['HTTP_HOST']   = $_SERVER['HTTP_HOST'] ?? ( getenv( 'WP_HTTP_HOST' ) ?: 'localhost' );
$_SERVER['REQUEST_URI'] = $_SERVER['REQUEST_URI'] ?? '/';
require $igfeed_wp_load;

if ( ! class_exists( 'Igfeed_Client' ) ) {
	fwrite( STDERR, "The igfeed plugin is not active in that WordPress.\n" );
	exit( 1 );
}
require_once __DIR__ . '/class-igfeed-testcase.php';

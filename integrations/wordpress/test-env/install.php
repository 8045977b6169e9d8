<?php
/**
 * Installs WordPress into the directory of wp-load.php (argv[1]), activates
 * igfeed and Twenty Twenty-Three, and creates the test pages. Prints the
 * pages' ids as JSON. Test environment only.
 *
 * @package igfeed
 */

if ( PHP_SAPI !== 'cli' ) {
	exit( 1 );
}
$_SERVER['HTTP_HOST'] = getenv( 'WP_HTTP_HOST' ) ?: 'localhost';
define( 'WP_INSTALLING', true );
require $argv[1];
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';

// No mail leaves the test site (the install's notice would need sendmail).
add_filter( 'pre_wp_mail', '__return_true' );
$igfeed_result = wp_install( 'igfeed test site', 'admin', 'admin@example.com', true, '', getenv( 'WP_ADMIN_PASS' ) ?: wp_generate_password( 24 ) );
if ( is_wp_error( $igfeed_result ) ) {
	fwrite( STDERR, $igfeed_result->get_error_message() . "\n" );
	exit( 1 );
}
// A user without manage_options, for the settings page's capability check.
$igfeed_reader = wp_insert_user(
	array(
		'user_login' => 'reader',
		'user_pass'  => getenv( 'WP_ADMIN_PASS' ) ?: wp_generate_password( 24 ),
		'user_email' => 'reader@example.com',
		'role'       => 'editor',
	)
);
if ( is_wp_error( $igfeed_reader ) ) {
	fwrite( STDERR, $igfeed_reader->get_error_message() . "\n" );
	exit( 1 );
}
update_option( 'permalink_structure', '/%postname%/' );
switch_theme( 'twentytwentythree' );
$igfeed_active = activate_plugin( 'igfeed/igfeed.php' );
if ( is_wp_error( $igfeed_active ) ) {
	fwrite( STDERR, 'activate igfeed: ' . $igfeed_active->get_error_message() . "\n" );
	exit( 1 );
}
flush_rewrite_rules( false );

$igfeed_pages = array(
	'shortcode' => '[igfeed account="default" limit="9" columns="3"]',
	'block'     => '<!-- wp:igfeed/feed {"limit":3} /-->',
	'captions'  => '<!-- wp:igfeed/feed {"limit":4,"columns":2,"captions":true,"align":"wide"} /-->',
	'videos'    => '[igfeed type="video" limit="50"]',
	'clamped'   => '[igfeed limit="999" columns="0"]',
	'invalid'   => '[igfeed account="Not_Valid!"]',
	'shop'      => '[igfeed account="shop" limit="5"]',
);
$igfeed_ids = array();
foreach ( $igfeed_pages as $igfeed_slug => $igfeed_content ) {
	$igfeed_ids[ $igfeed_slug ] = wp_insert_post(
		array(
			'post_type'    => 'page',
			'post_status'  => 'publish',
			'post_title'   => 'igfeed ' . $igfeed_slug,
			'post_name'    => 'igfeed-' . $igfeed_slug,
			'post_content' => $igfeed_content,
		),
		true
	);
	if ( is_wp_error( $igfeed_ids[ $igfeed_slug ] ) ) {
		fwrite( STDERR, $igfeed_ids[ $igfeed_slug ]->get_error_message() . "\n" );
		exit( 1 );
	}
}
echo wp_json_encode( $igfeed_ids ), "\n";

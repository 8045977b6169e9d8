<?php
/**
 * Router for PHP's built-in server: real files are served as they are,
 * everything else goes to WordPress (pretty permalinks, /wp-json/).
 * Test environment only.
 *
 * @package igfeed
 */

$igfeed_path = (string) parse_url( $_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH );
$igfeed_file = __DIR__ . $igfeed_path;
if ( '/' !== $igfeed_path && ( is_file( $igfeed_file ) || is_file( rtrim( $igfeed_file, '/' ) . '/index.php' ) ) ) {
	return false;
}
$_SERVER['SCRIPT_NAME']     = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = __DIR__ . '/index.php';
$_SERVER['PHP_SELF']        = '/index.php';
require __DIR__ . '/index.php';

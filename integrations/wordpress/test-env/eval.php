<?php
/**
 * Runs a snippet of PHP (argv[2]) inside the WordPress of wp-load.php
 * (argv[1]); the snippet's output is printed. Test environment only.
 *
 * @package igfeed
 */

if ( PHP_SAPI !== 'cli' ) {
	exit( 1 );
}
$_SERVER['HTTP_HOST'] = getenv( 'WP_HTTP_HOST' ) ?: 'localhost';
require $argv[1];
eval( $argv[2] ); // phpcs:ignore Squiz.PHP.Eval.Discouraged -- a test helper.

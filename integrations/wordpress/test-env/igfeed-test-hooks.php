<?php
/**
 * Must-use plugin of the test environment (never shipped): records the
 * igfeed_feed_updated action, lets the test point the plugin at another
 * feed path, and adds an image-loading probe for headless Chromium.
 *
 * @package igfeed
 */

// Every igfeed_feed_updated action, for the test to read back.
add_action(
	'igfeed_feed_updated',
	static function ( $account, $payload ) {
		$seen   = get_option( 'igfeed_test_updated', array() );
		$seen[] = array(
			'account' => $account,
			'added'   => $payload['added'] ?? null,
		);
		update_option( 'igfeed_test_updated', $seen, false );
	},
	10,
	2
);

// The feed path, when the test's igfeed serves another one.
add_filter(
	'igfeed_feed_path',
	static function ( $path ) {
		$override = get_option( 'igfeed_test_feed_path' );
		return is_string( $override ) && '' !== $override ? $override : $path;
	}
);

// Another igfeed (the browser check reads `igfeed --demo`, whose pictures are real).
add_filter(
	'igfeed_base_url',
	static function ( $url ) {
		$override = get_option( 'igfeed_test_base_url' );
		return is_string( $override ) && '' !== $override ? $override : $url;
	}
);

// ?igfeed-browser-check: records on <body> how many feed images rendered.
add_action(
	'wp_footer',
	static function () {
		if ( ! isset( $_GET['igfeed-browser-check'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended
			return;
		}
		?>
<script>
(function () {
	var started = Date.now();
	function check() {
		var imgs = Array.prototype.slice.call(document.querySelectorAll('.igfeed img'));
		var done = imgs.filter(function (i) { return i.complete; });
		if (done.length < imgs.length && Date.now() - started < 15000) { return setTimeout(check, 100); }
		var loaded = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
		var b = document.body;
		b.setAttribute('data-total', imgs.length);
		b.setAttribute('data-loaded', loaded.length);
		b.setAttribute('data-failed', imgs.length - loaded.length);
		b.setAttribute('data-lazy', imgs.filter(function (i) { return i.loading === 'lazy'; }).length);
		b.setAttribute('data-srcs', imgs.map(function (i) { return i.currentSrc; }).join(' '));
		b.setAttribute('data-done', 'true');
	}
	window.addEventListener('load', check);
})();
</script>
		<?php
	}
);

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

// ?igfeed-test-login=SECRET (only when wp-config defines the secret): logs
// in as user 1 and goes to a new post in the block editor, where the probe
// below inserts the igfeed/feed block and waits for its server-side preview.
add_action(
	'init',
	static function () {
		if ( ! defined( 'IGFEED_TEST_LOGIN_SECRET' ) || ! isset( $_GET['igfeed-test-login'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended
			return;
		}
		if ( ! hash_equals( IGFEED_TEST_LOGIN_SECRET, (string) $_GET['igfeed-test-login'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended
			return;
		}
		wp_set_auth_cookie( 1 );
		$to = isset( $_GET['to'] ) && 'settings' === $_GET['to'] // phpcs:ignore WordPress.Security.NonceVerification.Recommended
			? 'options-general.php?page=igfeed'
			: 'post-new.php?post_type=page&igfeed-editor-check=1';
		wp_safe_redirect( admin_url( $to ) );
		exit;
	}
);

add_action(
	'admin_footer',
	static function () {
		if ( ! isset( $_GET['igfeed-editor-check'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended
			return;
		}
		?>
<script>
(function () {
	var started = Date.now();
	var inserted = false;
	function done(attrs) {
		Object.keys(attrs).forEach(function (k) { document.body.setAttribute('data-' + k, attrs[k]); });
		document.body.setAttribute('data-done', 'true');
	}
	function step() {
		if (Date.now() - started > 25000) { return done({ error: 'timeout', inserted: inserted }); }
		var type = window.wp && wp.blocks && wp.blocks.getBlockType('igfeed/feed');
		var editor = window.wp && wp.data && wp.data.select('core/block-editor');
		if (!type || !editor || !document.querySelector('.block-editor-block-list__layout')) { return setTimeout(step, 100); }
		if (!inserted) {
			wp.data.dispatch('core/block-editor').insertBlocks(wp.blocks.createBlock('igfeed/feed', { limit: 2, columns: 2 }));
			inserted = true;
		}
		var items = document.querySelectorAll('.wp-block-igfeed-feed .igfeed__grid li');
		if (items.length === 0) { return setTimeout(step, 100); }
		done({ registered: type.name, title: type.title, items: items.length, captions: type.attributes.captions.type });
	}
	window.addEventListener('load', step);
})();
</script>
		<?php
	}
);

<?php
/**
 * Where igfeed lives (the IGFEED_URL constant or the settings page) and the
 * plugin's few options, kept with the Settings API.
 *
 * @package igfeed
 */

defined( 'ABSPATH' ) || exit;

/**
 * Settings: the service URL, cache lifetime, request timeout and the account
 * that Bricks' own Instagram element shows.
 */
final class Igfeed_Settings {
	const OPTION = 'igfeed_settings';
	const PAGE   = 'igfeed';

	/**
	 * Defaults of every stored setting.
	 *
	 * @return array<string, mixed>
	 */
	public static function defaults(): array {
		return array(
			'url'            => '',
			'cache_ttl'      => 300,
			'timeout'        => 3,
			'bricks_account' => 'default',
		);
	}

	/** Hooks the settings page. */
	public static function init(): void {
		add_action( 'admin_init', array( __CLASS__, 'register' ) );
		add_action( 'admin_menu', array( __CLASS__, 'menu' ) );
		add_action( 'admin_post_igfeed_clear_cache', array( __CLASS__, 'clear_cache' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( IGFEED_PLUGIN_FILE ), array( __CLASS__, 'action_links' ) );
	}

	/**
	 * One setting, from the stored option or its default.
	 *
	 * @param string $key One of the keys of defaults().
	 * @return mixed
	 */
	public static function get( string $key ) {
		$stored = get_option( self::OPTION, array() );
		$all    = array_merge( self::defaults(), is_array( $stored ) ? $stored : array() );
		return $all[ $key ] ?? null;
	}

	/** Whether wp-config.php sets the service URL. */
	public static function url_from_constant(): bool {
		return defined( 'IGFEED_URL' ) && is_string( IGFEED_URL ) && '' !== trim( IGFEED_URL );
	}

	/**
	 * The base URL of igfeed without a trailing slash, or '' when none is set
	 * (or it is not an http(s) URL).
	 */
	public static function base_url(): string {
		$url = self::url_from_constant() ? trim( (string) IGFEED_URL ) : (string) self::get( 'url' );
		$url = (string) apply_filters( 'igfeed_base_url', $url );
		if ( ! self::is_http_url( $url ) ) {
			return '';
		}
		return untrailingslashit( $url );
	}

	/** Seconds a fetched feed is used before igfeed is asked again. */
	public static function cache_ttl(): int {
		return (int) apply_filters( 'igfeed_cache_ttl', self::clamp( self::get( 'cache_ttl' ), 30, DAY_IN_SECONDS, 300 ) );
	}

	/** Seconds one request to igfeed may take. */
	public static function timeout(): int {
		return self::clamp( self::get( 'timeout' ), 1, 10, 3 );
	}

	/** The account whose feed answers Bricks' Instagram element. */
	public static function bricks_account(): string {
		$account = (string) self::get( 'bricks_account' );
		return Igfeed_Client::valid_account( $account ) ? $account : 'default';
	}

	/**
	 * Whether $url is an absolute http or https URL.
	 *
	 * @param string $url Any string.
	 */
	public static function is_http_url( string $url ): bool {
		if ( '' === $url ) {
			return false;
		}
		$parts = wp_parse_url( $url );
		return is_array( $parts ) && isset( $parts['scheme'], $parts['host'] )
			&& in_array( strtolower( $parts['scheme'] ), array( 'http', 'https' ), true );
	}

	/**
	 * $value as an int within [$min, $max], or $default when it is no number.
	 *
	 * @param mixed $value   Anything.
	 * @param int   $min     Lowest.
	 * @param int   $max     Highest.
	 * @param int   $default When $value is not numeric.
	 */
	public static function clamp( $value, int $min, int $max, int $default ): int {
		if ( ! is_numeric( $value ) ) {
			return $default;
		}
		return max( $min, min( $max, (int) $value ) );
	}

	/** Registers the option, its section and fields. */
	public static function register(): void {
		register_setting(
			self::PAGE,
			self::OPTION,
			array(
				'type'              => 'array',
				'sanitize_callback' => array( __CLASS__, 'sanitize' ),
				'default'           => self::defaults(),
				'show_in_rest'      => false,
			)
		);
		add_settings_section( 'igfeed_service', __( 'igfeed service', 'igfeed' ), array( __CLASS__, 'section_intro' ), self::PAGE );
		add_settings_field( 'igfeed_url', __( 'igfeed URL', 'igfeed' ), array( __CLASS__, 'field_url' ), self::PAGE, 'igfeed_service', array( 'label_for' => 'igfeed_url' ) );
		add_settings_field( 'igfeed_cache_ttl', __( 'Cache lifetime (seconds)', 'igfeed' ), array( __CLASS__, 'field_number' ), self::PAGE, 'igfeed_service', array( 'label_for' => 'igfeed_cache_ttl', 'key' => 'cache_ttl', 'min' => 30, 'max' => DAY_IN_SECONDS ) );
		add_settings_field( 'igfeed_timeout', __( 'Request timeout (seconds)', 'igfeed' ), array( __CLASS__, 'field_number' ), self::PAGE, 'igfeed_service', array( 'label_for' => 'igfeed_timeout', 'key' => 'timeout', 'min' => 1, 'max' => 10 ) );
		add_settings_field( 'igfeed_bricks_account', __( 'Account for Bricks\' Instagram element', 'igfeed' ), array( __CLASS__, 'field_account' ), self::PAGE, 'igfeed_service', array( 'label_for' => 'igfeed_bricks_account' ) );
	}

	/**
	 * Sanitizes the submitted settings; a bad URL keeps the previous one.
	 *
	 * @param mixed $input The submitted option value.
	 * @return array<string, mixed>
	 */
	public static function sanitize( $input ): array {
		$old    = get_option( self::OPTION, array() );
		$old    = array_merge( self::defaults(), is_array( $old ) ? $old : array() );
		$input  = is_array( $input ) ? $input : array();
		$output = $old;

		if ( isset( $input['url'] ) ) {
			$url = trim( sanitize_text_field( wp_unslash( (string) $input['url'] ) ) );
			if ( '' === $url ) {
				$output['url'] = '';
			} elseif ( self::is_http_url( $url ) ) {
				$output['url'] = untrailingslashit( esc_url_raw( $url, array( 'http', 'https' ) ) );
			} else {
				add_settings_error( self::OPTION, 'igfeed_url', __( 'The igfeed URL must be an http:// or https:// address; the previous one is kept.', 'igfeed' ) );
			}
		}
		if ( isset( $input['cache_ttl'] ) ) {
			$output['cache_ttl'] = self::clamp( $input['cache_ttl'], 30, DAY_IN_SECONDS, 300 );
		}
		if ( isset( $input['timeout'] ) ) {
			$output['timeout'] = self::clamp( $input['timeout'], 1, 10, 3 );
		}
		if ( isset( $input['bricks_account'] ) ) {
			$account = strtolower( trim( sanitize_text_field( wp_unslash( (string) $input['bricks_account'] ) ) ) );
			if ( Igfeed_Client::valid_account( $account ) ) {
				$output['bricks_account'] = $account;
			} else {
				add_settings_error( self::OPTION, 'igfeed_bricks_account', __( 'An account name is 1 to 40 lowercase letters, digits or dashes, starting with a letter or digit; the previous one is kept.', 'igfeed' ) );
			}
		}
		return $output;
	}

	/** Adds Settings → igfeed. */
	public static function menu(): void {
		add_options_page( __( 'igfeed', 'igfeed' ), __( 'igfeed', 'igfeed' ), 'manage_options', self::PAGE, array( __CLASS__, 'page' ) );
	}

	/**
	 * A "Settings" link on the Plugins screen.
	 *
	 * @param array<int|string, string> $links Existing links.
	 * @return array<int|string, string>
	 */
	public static function action_links( array $links ): array {
		$links[] = '<a href="' . esc_url( admin_url( 'options-general.php?page=' . self::PAGE ) ) . '">' . esc_html__( 'Settings', 'igfeed' ) . '</a>';
		return $links;
	}

	/** Text above the fields. */
	public static function section_intro(): void {
		echo '<p>' . esc_html__( 'igfeed keeps the Instagram token and serves the feed; WordPress only reads the public feed, so no token is entered here.', 'igfeed' ) . '</p>';
	}

	/** The URL field, read-only when wp-config.php sets IGFEED_URL. */
	public static function field_url(): void {
		if ( self::url_from_constant() ) {
			printf(
				'<input type="url" id="igfeed_url" class="regular-text code" value="%s" disabled="disabled" /> <p class="description">%s</p>',
				esc_attr( (string) IGFEED_URL ),
				esc_html__( 'Set by the IGFEED_URL constant in wp-config.php.', 'igfeed' )
			);
			return;
		}
		printf(
			'<input type="url" id="igfeed_url" name="%s[url]" class="regular-text code" value="%s" placeholder="https://feeds.example.com" /> <p class="description">%s</p>',
			esc_attr( self::OPTION ),
			esc_attr( (string) self::get( 'url' ) ),
			esc_html__( 'Base URL of your igfeed service. Defining IGFEED_URL in wp-config.php overrides this field.', 'igfeed' )
		);
	}

	/**
	 * A number field.
	 *
	 * @param array<string, mixed> $args key, min, max, label_for.
	 */
	public static function field_number( array $args ): void {
		printf(
			'<input type="number" id="%s" name="%s[%s]" value="%d" min="%d" max="%d" class="small-text" />',
			esc_attr( $args['label_for'] ),
			esc_attr( self::OPTION ),
			esc_attr( $args['key'] ),
			(int) self::get( $args['key'] ),
			(int) $args['min'],
			(int) $args['max']
		);
	}

	/** The Bricks account field. */
	public static function field_account(): void {
		printf(
			'<input type="text" id="igfeed_bricks_account" name="%s[bricks_account]" value="%s" class="regular-text code" pattern="[a-z0-9][a-z0-9\-]{0,39}" /> <p class="description">%s <code>%s</code></p>',
			esc_attr( self::OPTION ),
			esc_attr( self::bricks_account() ),
			esc_html__( 'In Bricks → Settings → API keys, put this placeholder as the Instagram access token:', 'igfeed' ),
			esc_html( Igfeed_Graph::PLACEHOLDER )
		);
	}

	/** Settings → igfeed. */
	public static function page(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			return;
		}
		echo '<div class="wrap"><h1>' . esc_html( get_admin_page_title() ) . '</h1>';
		if ( isset( $_GET['igfeed-cleared'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- only a notice.
			echo '<div class="notice notice-success"><p>' . esc_html__( 'Cached feeds dropped.', 'igfeed' ) . '</p></div>';
		}
		echo '<form action="' . esc_url( admin_url( 'options.php' ) ) . '" method="post">';
		settings_fields( self::PAGE );
		do_settings_sections( self::PAGE );
		submit_button();
		echo '</form>';

		echo '<h2>' . esc_html__( 'Status', 'igfeed' ) . '</h2>';
		self::status_table();

		echo '<h2>' . esc_html__( 'Webhook', 'igfeed' ) . '</h2><p>';
		printf(
			/* translators: %s: the webhook URL */
			esc_html__( 'Point igfeed\'s webhook at %s so pages change as soon as the feed does.', 'igfeed' ),
			'<code>' . esc_html( rest_url( 'igfeed/v1/webhook' ) ) . '</code>'
		);
		echo ' ';
		if ( Igfeed_Webhook::secret() ) {
			esc_html_e( 'IGFEED_WEBHOOK_SECRET is set: signed webhooks are accepted.', 'igfeed' );
		} else {
			esc_html_e( 'IGFEED_WEBHOOK_SECRET is not defined in wp-config.php, so every webhook is refused (403).', 'igfeed' );
		}
		echo '</p>';

		echo '<h2>' . esc_html__( 'Cache', 'igfeed' ) . '</h2><p>' . esc_html__( 'Feeds are kept for the cache lifetime, and the last good copy for when igfeed cannot be reached. Dropping them makes the next page view read igfeed again.', 'igfeed' ) . '</p>';
		echo '<form action="' . esc_url( admin_url( 'admin-post.php' ) ) . '" method="post">';
		echo '<input type="hidden" name="action" value="igfeed_clear_cache" />';
		wp_nonce_field( 'igfeed_clear_cache' );
		submit_button( __( 'Drop cached feeds', 'igfeed' ), 'secondary', 'submit', false );
		echo '</form></div>';
	}

	/** The public token status of the Bricks account, as igfeed reports it. */
	private static function status_table(): void {
		$base = self::base_url();
		if ( '' === $base ) {
			echo '<p>' . esc_html__( 'No igfeed URL is set yet.', 'igfeed' ) . '</p>';
			return;
		}
		$account = self::bricks_account();
		$status  = Igfeed_Client::token_status( $account );
		if ( is_wp_error( $status ) ) {
			echo '<p>' . esc_html( sprintf( /* translators: 1: account, 2: error */ __( 'igfeed did not report on account "%1$s": %2$s', 'igfeed' ), $account, $status->get_error_message() ) ) . '</p>';
			return;
		}
		$rows = array(
			__( 'Account', 'igfeed' )      => $account,
			__( 'Token status', 'igfeed' ) => $status['status'] ?? '',
			__( 'Instagram user', 'igfeed' ) => isset( $status['user']['username'] ) ? '@' . $status['user']['username'] : '',
			__( 'Expires', 'igfeed' )      => $status['expires_at'] ?? '',
			__( 'Next refresh', 'igfeed' ) => $status['next_refresh_at'] ?? '',
		);
		echo '<table class="widefat striped" style="max-width:40em"><tbody>';
		foreach ( $rows as $label => $value ) {
			echo '<tr><th scope="row">' . esc_html( $label ) . '</th><td>' . esc_html( is_scalar( $value ) ? (string) $value : '' ) . '</td></tr>';
		}
		echo '</tbody></table>';
	}

	/** admin-post.php?action=igfeed_clear_cache: drops every cached feed. */
	public static function clear_cache(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'igfeed' ), 403 );
		}
		check_admin_referer( 'igfeed_clear_cache' );
		Igfeed_Client::drop_all();
		wp_safe_redirect( admin_url( 'options-general.php?page=' . self::PAGE . '&igfeed-cleared=1' ) );
		exit;
	}
}

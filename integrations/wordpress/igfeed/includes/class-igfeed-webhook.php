<?php
/**
 * POST /wp-json/igfeed/v1/webhook: igfeed says a feed changed; the signature
 * is checked against IGFEED_WEBHOOK_SECRET and the cached copies dropped.
 *
 * @package igfeed
 */

defined( 'ABSPATH' ) || exit;

/**
 * The webhook receiver.
 */
final class Igfeed_Webhook {

	/** Hooks the REST route. */
	public static function init(): void {
		add_action( 'rest_api_init', array( __CLASS__, 'routes' ) );
	}

	/** The shared secret, or '' when IGFEED_WEBHOOK_SECRET is not defined. */
	public static function secret(): string {
		$secret = defined( 'IGFEED_WEBHOOK_SECRET' ) && is_string( IGFEED_WEBHOOK_SECRET ) ? IGFEED_WEBHOOK_SECRET : '';
		/**
		 * The webhook secret; '' refuses every webhook.
		 *
		 * @param string $secret IGFEED_WEBHOOK_SECRET, or ''.
		 */
		$secret = apply_filters( 'igfeed_webhook_secret', $secret );
		return is_string( $secret ) ? $secret : '';
	}

	/** Registers the route. */
	public static function routes(): void {
		register_rest_route(
			'igfeed/v1',
			'/webhook',
			array(
				'methods'             => 'POST',
				'callback'            => array( __CLASS__, 'receive' ),
				'permission_callback' => array( __CLASS__, 'verify' ),
			)
		);
	}

	/**
	 * Whether the request carries a valid signature: 403 when no secret is
	 * configured (every webhook is refused), 401 when the signature is
	 * missing or wrong.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return true|WP_Error
	 */
	public static function verify( WP_REST_Request $request ) {
		$secret = self::secret();
		if ( '' === $secret ) {
			return new WP_Error( 'igfeed_webhook_disabled', __( 'Webhooks are off: IGFEED_WEBHOOK_SECRET is not defined in wp-config.php.', 'igfeed' ), array( 'status' => 403 ) );
		}
		$header = trim( (string) $request->get_header( 'x_igfeed_signature' ) );
		if ( ! preg_match( '/^sha256=([0-9a-fA-F]{64})$/', $header, $m ) ) {
			return new WP_Error( 'igfeed_webhook_unsigned', __( 'Missing or malformed X-Igfeed-Signature.', 'igfeed' ), array( 'status' => 401 ) );
		}
		$expected = hash_hmac( 'sha256', $request->get_body(), $secret );
		if ( ! hash_equals( $expected, strtolower( $m[1] ) ) ) {
			return new WP_Error( 'igfeed_webhook_bad_signature', __( 'X-Igfeed-Signature does not match the body.', 'igfeed' ), array( 'status' => 401 ) );
		}
		return true;
	}

	/**
	 * Drops the cached copies of the account named in a feed.updated event
	 * and lets page caches follow through the igfeed_feed_updated action.
	 *
	 * @param WP_REST_Request $request The (signed) request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function receive( WP_REST_Request $request ) {
		$payload = json_decode( $request->get_body(), true );
		if ( ! is_array( $payload ) ) {
			return new WP_Error( 'igfeed_webhook_bad_body', __( 'The body is not a JSON object.', 'igfeed' ), array( 'status' => 400 ) );
		}
		$event = $payload['event'] ?? $request->get_header( 'x_igfeed_event' );
		if ( 'feed.updated' !== $event ) {
			// Events this version does not know are acknowledged and ignored.
			return new WP_REST_Response(
				array(
					'ok'      => true,
					'ignored' => is_string( $event ) ? $event : null,
				),
				202
			);
		}
		$account = $payload['account'] ?? null;
		if ( ! Igfeed_Client::valid_account( $account ) ) {
			return new WP_Error( 'igfeed_webhook_bad_account', __( 'The event names no valid account.', 'igfeed' ), array( 'status' => 400 ) );
		}

		$dropped = Igfeed_Client::drop( $account );
		if ( Igfeed_Settings::bricks_account() === $account ) {
			$dropped += Igfeed_Graph::drop_bricks_cache();
		}

		/**
		 * A feed changed in igfeed and the plugin dropped its cached copies;
		 * page caches can purge the pages that show it.
		 *
		 * @param string               $account The account.
		 * @param array<string, mixed> $payload The event (added, removed, fetched_at).
		 */
		do_action( 'igfeed_feed_updated', $account, $payload );

		return new WP_REST_Response(
			array(
				'ok'      => true,
				'account' => $account,
				'dropped' => $dropped,
			),
			200
		);
	}
}

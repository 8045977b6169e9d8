<?php
/**
 * The [igfeed] shortcode and the igfeed/feed block (same attributes, same
 * markup), and the small stylesheet they share.
 *
 * @package igfeed
 */

defined( 'ABSPATH' ) || exit;

/**
 * Registers the shortcode, the block and the stylesheet.
 */
final class Igfeed_Shortcode {

	/** Hooks everything in. */
	public static function init(): void {
		add_action( 'init', array( __CLASS__, 'register' ) );
	}

	/** Registers the style, the editor script, the shortcode and the block. */
	public static function register(): void {
		$url = plugins_url( '', IGFEED_PLUGIN_FILE );
		wp_register_style( 'igfeed', $url . '/assets/igfeed.css', array(), IGFEED_PLUGIN_VERSION );
		wp_register_script(
			'igfeed-block-editor',
			$url . '/block/editor.js',
			array( 'wp-blocks', 'wp-element', 'wp-components', 'wp-block-editor', 'wp-server-side-render', 'wp-i18n' ),
			IGFEED_PLUGIN_VERSION,
			true
		);
		add_shortcode( 'igfeed', array( __CLASS__, 'shortcode' ) );
		register_block_type(
			IGFEED_PLUGIN_DIR . '/block',
			array( 'render_callback' => array( __CLASS__, 'block' ) )
		);
	}

	/**
	 * [igfeed account="default" limit="9" columns="3" type="" captions="no"]
	 *
	 * @param array<string, mixed>|string $atts Shortcode attributes.
	 */
	public static function shortcode( $atts ): string {
		$atts = shortcode_atts( Igfeed_Render::defaults(), is_array( $atts ) ? $atts : array(), 'igfeed' );
		return Igfeed_Render::feed_html( $atts );
	}

	/**
	 * Server-side render of the igfeed/feed block.
	 *
	 * @param array<string, mixed> $attributes Block attributes.
	 */
	public static function block( $attributes ): string {
		$attributes = is_array( $attributes ) ? $attributes : array();
		$classes    = 'wp-block-igfeed-feed';
		if ( class_exists( 'WP_Block_Supports' ) && ! empty( WP_Block_Supports::$block_to_render ) ) {
			// Alignment and extra classes chosen in the editor.
			if ( preg_match( '/\bclass="([^"]*)"/', get_block_wrapper_attributes(), $m ) ) {
				$classes = html_entity_decode( $m[1], ENT_QUOTES );
			}
		}
		return Igfeed_Render::feed_html( $attributes, sanitize_text_field( $classes ) );
	}
}

<?php
/**
 * Plugin Name:       igfeed
 * Description:       Renders Instagram feeds served by a self-hosted igfeed service: a shortcode, a block, a Bricks query loop and Bricks' own Instagram element. The Instagram token stays in igfeed, never in WordPress.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Requires PHP:      8.1
 * Author:            igfeed
 * License:           MIT
 * Text Domain:       igfeed
 *
 * @package igfeed
 */

defined( 'ABSPATH' ) || exit;

define( 'IGFEED_PLUGIN_VERSION', '0.1.0' );
define( 'IGFEED_PLUGIN_FILE', __FILE__ );
define( 'IGFEED_PLUGIN_DIR', __DIR__ );

require_once __DIR__ . '/includes/class-igfeed-settings.php';
require_once __DIR__ . '/includes/class-igfeed-client.php';
require_once __DIR__ . '/includes/class-igfeed-render.php';
require_once __DIR__ . '/includes/class-igfeed-shortcode.php';
require_once __DIR__ . '/includes/class-igfeed-webhook.php';
require_once __DIR__ . '/includes/class-igfeed-graph.php';
require_once __DIR__ . '/includes/class-igfeed-bricks.php';

Igfeed_Settings::init();
Igfeed_Shortcode::init();
Igfeed_Webhook::init();
Igfeed_Graph::init();
Igfeed_Bricks::init();

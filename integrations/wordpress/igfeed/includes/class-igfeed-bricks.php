<?php
/**
 * Bricks query loop: a query type "Instagram (igfeed)" whose loop items are
 * the posts of an igfeed feed, and dynamic data tags {igfeed_*} that read
 * the current item.
 *
 * Bricks is a commercial theme; these hooks follow its documented filter
 * signatures (see README.md). They do nothing unless Bricks calls them.
 *
 * @package igfeed
 */

defined( 'ABSPATH' ) || exit;

/**
 * Bricks integration.
 */
final class Igfeed_Bricks {
	/** The query type's key (Bricks' query objectType). */
	const OBJECT_TYPE = 'igfeed';
	/** Marker set on every loop item. */
	const MARKER = '_igfeed';
	/** Elements that can hold a query loop. */
	const LOOP_ELEMENTS = array( 'container', 'block', 'div' );

	/**
	 * The item of the loop being rendered.
	 *
	 * @var array<string, mixed>|null
	 */
	private static ?array $current = null;

	/** Hooks the Bricks filters. */
	public static function init(): void {
		add_filter( 'bricks/setup/control_options', array( __CLASS__, 'control_options' ) );
		foreach ( self::LOOP_ELEMENTS as $element ) {
			add_filter( "bricks/elements/{$element}/controls", array( __CLASS__, 'controls' ) );
		}
		add_filter( 'bricks/query/run', array( __CLASS__, 'run' ), 10, 2 );
		add_filter( 'bricks/query/loop_object', array( __CLASS__, 'loop_object' ), 10, 3 );
		add_filter( 'bricks/query/loop_object_id', array( __CLASS__, 'loop_object_id' ), 10, 3 );
		add_action( 'bricks/query/after_loop', array( __CLASS__, 'after_loop' ), 10, 2 );
		add_filter( 'bricks/dynamic_tags_list', array( __CLASS__, 'tags_list' ) );
		add_filter( 'bricks/dynamic_data/render_tag', array( __CLASS__, 'render_tag' ), 10, 3 );
		add_filter( 'bricks/dynamic_data/render_content', array( __CLASS__, 'render_content' ), 10, 3 );
		add_filter( 'bricks/frontend/render_data', array( __CLASS__, 'render_content' ), 10, 2 );
	}

	/**
	 * The dynamic data tags and their labels.
	 *
	 * @return array<string, string>
	 */
	public static function tags(): array {
		return array(
			'igfeed_image'      => __( 'Image URL', 'igfeed' ),
			'igfeed_caption'    => __( 'Caption', 'igfeed' ),
			'igfeed_permalink'  => __( 'Permalink', 'igfeed' ),
			'igfeed_timestamp'  => __( 'Date', 'igfeed' ),
			'igfeed_media_type' => __( 'Media type', 'igfeed' ),
			'igfeed_alt'        => __( 'Alt text', 'igfeed' ),
			'igfeed_width'      => __( 'Image width', 'igfeed' ),
			'igfeed_height'     => __( 'Image height', 'igfeed' ),
		);
	}

	/**
	 * bricks/setup/control_options: adds the query type.
	 *
	 * @param mixed $options Bricks' control options.
	 * @return mixed
	 */
	public static function control_options( $options ) {
		if ( is_array( $options ) ) {
			$options['queryTypes']                      = is_array( $options['queryTypes'] ?? null ) ? $options['queryTypes'] : array();
			$options['queryTypes'][ self::OBJECT_TYPE ] = esc_html__( 'Instagram (igfeed)', 'igfeed' );
		}
		return $options;
	}

	/**
	 * bricks/elements/{container,block,div}/controls: the query type's
	 * settings, shown when it is chosen.
	 *
	 * @param mixed $controls Element controls.
	 * @return mixed
	 */
	public static function controls( $controls ) {
		if ( ! is_array( $controls ) ) {
			return $controls;
		}
		$required = array(
			array( 'hasLoop', '!=', false ),
			array( 'query.objectType', '=', self::OBJECT_TYPE ),
		);
		$ours     = array(
			'igfeedAccount' => array(
				'tab'         => 'content',
				'label'       => esc_html__( 'igfeed account', 'igfeed' ),
				'type'        => 'text',
				'placeholder' => 'default',
				'required'    => $required,
			),
			'igfeedLimit'   => array(
				'tab'         => 'content',
				'label'       => esc_html__( 'Posts', 'igfeed' ),
				'type'        => 'number',
				'min'         => 1,
				'max'         => Igfeed_Client::MAX_POSTS,
				'placeholder' => 9,
				'required'    => $required,
			),
			'igfeedType'    => array(
				'tab'         => 'content',
				'label'       => esc_html__( 'Media types', 'igfeed' ),
				'type'        => 'select',
				'multiple'    => true,
				'options'     => array(
					'IMAGE'          => esc_html__( 'Images', 'igfeed' ),
					'VIDEO'          => esc_html__( 'Videos', 'igfeed' ),
					'CAROUSEL_ALBUM' => esc_html__( 'Albums', 'igfeed' ),
				),
				'placeholder' => esc_html__( 'All', 'igfeed' ),
				'required'    => $required,
			),
		);
		// Just after the query control, when there is one.
		$at = array_search( 'query', array_keys( $controls ), true );
		if ( false === $at ) {
			return $controls + $ours;
		}
		return array_slice( $controls, 0, $at + 1, true ) + $ours + array_slice( $controls, $at + 1, null, true );
	}

	/**
	 * A setting of the query: the element's control, or one inside its
	 * query settings.
	 *
	 * @param object $query_obj Bricks' query object.
	 * @param string $key       Setting key.
	 * @return mixed
	 */
	private static function setting( $query_obj, string $key ) {
		$settings = is_object( $query_obj ) && isset( $query_obj->settings ) && is_array( $query_obj->settings ) ? $query_obj->settings : array();
		if ( isset( $settings[ $key ] ) ) {
			return $settings[ $key ];
		}
		return isset( $settings['query'][ $key ] ) ? $settings['query'][ $key ] : null;
	}

	/**
	 * bricks/query/run: the posts of the feed, for the igfeed query type.
	 *
	 * @param mixed  $results   Results so far.
	 * @param object $query_obj Bricks' query object.
	 * @return mixed
	 */
	public static function run( $results, $query_obj ) {
		if ( ! is_object( $query_obj ) || ( $query_obj->object_type ?? null ) !== self::OBJECT_TYPE ) {
			return $results;
		}
		$a = Igfeed_Render::attributes(
			array(
				'account' => self::setting( $query_obj, 'igfeedAccount' ),
				'limit'   => self::setting( $query_obj, 'igfeedLimit' ),
				'type'    => self::setting( $query_obj, 'igfeedType' ),
			)
		);
		if ( null === $a['account'] ) {
			return array();
		}
		$feed = Igfeed_Client::get_feed( $a['account'], $a['type'] );
		if ( is_wp_error( $feed ) ) {
			return array();
		}
		$username = Igfeed_Render::str( $feed['user'] ?? array(), 'username' );
		$items    = array();
		foreach ( array_slice( $feed['data'], 0, $a['limit'] ) as $post ) {
			if ( is_array( $post ) ) {
				$post[ self::MARKER ]     = true;
				$post['_igfeed_username'] = $username;
				$items[]                  = $post;
			}
		}
		return $items;
	}

	/**
	 * bricks/query/loop_object: remembers the item being rendered.
	 *
	 * @param mixed  $loop_object The item.
	 * @param mixed  $loop_key    Its key.
	 * @param object $query_obj   Bricks' query object.
	 * @return mixed
	 */
	public static function loop_object( $loop_object, $loop_key, $query_obj ) {
		if ( is_object( $query_obj ) && ( $query_obj->object_type ?? null ) === self::OBJECT_TYPE && is_array( $loop_object ) ) {
			self::$current = $loop_object;
		}
		return $loop_object;
	}

	/**
	 * bricks/query/loop_object_id: the post's Instagram id.
	 *
	 * @param mixed $object_id Id so far.
	 * @param mixed $loop_object The item.
	 * @param mixed $query_id  Query id.
	 * @return mixed
	 */
	public static function loop_object_id( $object_id, $loop_object, $query_id = null ) {
		if ( is_array( $loop_object ) && ! empty( $loop_object[ self::MARKER ] ) && isset( $loop_object['id'] ) ) {
			return (string) $loop_object['id'];
		}
		return $object_id;
	}

	/**
	 * bricks/query/after_loop: forgets the item.
	 *
	 * @param object $query_obj Bricks' query object.
	 * @param mixed  $args      Unused.
	 */
	public static function after_loop( $query_obj = null, $args = null ): void {
		if ( is_object( $query_obj ) && ( $query_obj->object_type ?? null ) === self::OBJECT_TYPE ) {
			self::$current = null;
		}
	}

	/**
	 * The igfeed item being rendered: Bricks' own loop object when it is
	 * one of ours, else the one loop_object() remembered.
	 *
	 * @return array<string, mixed>|null
	 */
	public static function current(): ?array {
		if ( class_exists( '\Bricks\Query' ) && method_exists( '\Bricks\Query', 'get_loop_object' ) ) {
			$object = \Bricks\Query::get_loop_object();
			if ( is_array( $object ) && ! empty( $object[ self::MARKER ] ) ) {
				return $object;
			}
		}
		return self::$current;
	}

	/**
	 * Sets the current item (tests, or code rendering an item by hand).
	 *
	 * @param array<string, mixed>|null $item An item from run(), or null.
	 */
	public static function set_current( ?array $item ): void {
		self::$current = $item;
	}

	/**
	 * bricks/dynamic_tags_list: the {igfeed_*} tags in the builder's picker.
	 *
	 * @param mixed $tags Tags so far.
	 * @return mixed
	 */
	public static function tags_list( $tags ) {
		if ( ! is_array( $tags ) ) {
			return $tags;
		}
		foreach ( self::tags() as $name => $label ) {
			$tags[] = array(
				'name'  => '{' . $name . '}',
				'label' => $label,
				'group' => 'Instagram (igfeed)',
			);
		}
		return $tags;
	}

	/**
	 * Splits "{igfeed_caption:20}" or "igfeed_caption:20" into name and
	 * argument; null when it is not one of our tags.
	 *
	 * @param mixed $tag A tag, with or without braces.
	 * @return array{0: string, 1: string}|null
	 */
	private static function parse_tag( $tag ): ?array {
		if ( ! is_string( $tag ) ) {
			return null;
		}
		$tag   = trim( $tag, "{} \t\n" );
		$parts = explode( ':', $tag, 2 );
		if ( ! isset( self::tags()[ $parts[0] ] ) ) {
			return null;
		}
		return array( $parts[0], $parts[1] ?? '' );
	}

	/**
	 * bricks/dynamic_data/render_tag: the value of one {igfeed_*} tag for
	 * the current item; other tags are returned untouched. In the image
	 * context the value is an array holding the URL, as Bricks' image
	 * controls expect.
	 *
	 * @param mixed  $tag     The tag.
	 * @param mixed  $post    The post in context (unused).
	 * @param string $context text, link, image, …
	 * @return mixed
	 */
	public static function render_tag( $tag, $post = null, $context = 'text' ) {
		$parsed = self::parse_tag( $tag );
		if ( null === $parsed ) {
			return $tag;
		}
		$value = self::value( $parsed[0], $parsed[1], self::current(), is_string( $context ) ? $context : 'text' );
		if ( 'image' === $context ) {
			return '' === $value ? array() : array( $value );
		}
		return $value;
	}

	/**
	 * bricks/dynamic_data/render_content (and bricks/frontend/render_data):
	 * replaces every {igfeed_*} tag in $content.
	 *
	 * @param mixed  $content Content.
	 * @param mixed  $post    The post in context (unused).
	 * @param string $context text, link, …
	 * @return mixed
	 */
	public static function render_content( $content, $post = null, $context = 'text' ) {
		if ( ! is_string( $content ) || false === strpos( $content, '{igfeed_' ) ) {
			return $content;
		}
		$item    = self::current();
		$context = is_string( $context ) ? $context : 'text';
		return (string) preg_replace_callback(
			'/\{(igfeed_[a-z_]+)(?::([^{}]*))?\}/',
			static function ( $m ) use ( $item, $context ) {
				if ( ! isset( self::tags()[ $m[1] ] ) ) {
					return $m[0];
				}
				return self::value( $m[1], $m[2] ?? '', $item, 'image' === $context ? 'link' : $context );
			},
			$content
		);
	}

	/**
	 * The value of a tag for an item, escaped for where it goes: URLs for
	 * link and image contexts are raw (Bricks escapes attributes), text is
	 * HTML-escaped. '' when there is no item or no value.
	 *
	 * @param string                    $name    Tag name.
	 * @param string                    $arg     Argument after ':' (word count for the caption, date format or "iso" for the timestamp).
	 * @param array<string, mixed>|null $item    Current item.
	 * @param string                    $context Context.
	 */
	public static function value( string $name, string $arg, ?array $item, string $context = 'text' ): string {
		if ( null === $item ) {
			return '';
		}
		$url = static function ( ?string $u ) use ( $context ): string {
			if ( null === $u ) {
				return '';
			}
			return in_array( $context, array( 'link', 'image', 'media' ), true ) ? esc_url_raw( $u ) : esc_url( $u );
		};
		$image = Igfeed_Render::image( $item );
		switch ( $name ) {
			case 'igfeed_image':
				return $url( $image['src'] ?? null );
			case 'igfeed_permalink':
				return $url( Igfeed_Render::url( $item, 'permalink' ) );
			case 'igfeed_caption':
				$caption = Igfeed_Render::str( $item, 'caption' ) ?? '';
				if ( '' !== $caption && ctype_digit( $arg ) && (int) $arg > 0 ) {
					$caption = Igfeed_Render::words( $caption, (int) $arg );
				}
				return esc_html( $caption );
			case 'igfeed_alt':
				return esc_attr( Igfeed_Render::alt( $item, is_string( $item['_igfeed_username'] ?? null ) ? $item['_igfeed_username'] : null ) );
			case 'igfeed_timestamp':
				$time = Igfeed_Render::timestamp( $item );
				if ( null === $time ) {
					return '';
				}
				if ( 'iso' === $arg ) {
					return esc_html( gmdate( 'c', $time ) );
				}
				return esc_html( wp_date( '' !== $arg ? $arg : (string) get_option( 'date_format', 'F j, Y' ), $time ) );
			case 'igfeed_media_type':
				return esc_html( Igfeed_Render::str( $item, 'media_type' ) ?? '' );
			case 'igfeed_width':
				return isset( $image['width'] ) ? (string) (int) $image['width'] : '';
			case 'igfeed_height':
				return isset( $image['height'] ) ? (string) (int) $image['height'] : '';
		}
		return '';
	}
}

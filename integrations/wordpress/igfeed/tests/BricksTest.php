<?php
/**
 * The Bricks query loop and dynamic data tags, called with the argument
 * shapes Bricks documents (Bricks itself is not installed).
 *
 * @package igfeed
 */

/**
 * Bricks hooks.
 */
final class BricksTest extends Igfeed_TestCase {

	/** A stand-in for \Bricks\Query with the properties the hooks read. */
	private static function query( array $settings, string $type = 'igfeed' ): object {
		$q              = new stdClass();
		$q->object_type = $type;
		$q->element_id  = 'abcdef';
		$q->settings    = $settings;
		return $q;
	}

	/** Runs the loop of $query as Bricks does and collects $render per item. */
	private static function loop( object $query, callable $render ): array {
		$out = array();
		foreach ( apply_filters( 'bricks/query/run', array(), $query ) as $key => $item ) {
			apply_filters( 'bricks/query/loop_object', $item, $key, $query );
			$out[] = $render( $item );
		}
		do_action( 'bricks/query/after_loop', $query, array() );
		return $out;
	}

	public function test_query_type_is_offered(): void {
		$options = apply_filters( 'bricks/setup/control_options', array( 'queryTypes' => array( 'post' => 'Posts', 'term' => 'Terms', 'user' => 'Users' ) ) );
		$this->assertSame( 'Instagram (igfeed)', $options['queryTypes']['igfeed'] );
		$this->assertSame( 'Posts', $options['queryTypes']['post'] );
		$this->assertSame( 'Instagram (igfeed)', apply_filters( 'bricks/setup/control_options', array() )['queryTypes']['igfeed'] );
	}

	public function test_controls_follow_the_query_control(): void {
		foreach ( array( 'container', 'block', 'div' ) as $element ) {
			$controls = apply_filters( "bricks/elements/{$element}/controls", array( 'hasLoop' => array(), 'query' => array( 'type' => 'query' ), 'loopSeparator' => array() ) );
			$this->assertSame( array( 'hasLoop', 'query', 'igfeedAccount', 'igfeedLimit', 'igfeedType', 'loopSeparator' ), array_keys( $controls ), $element );
			$this->assertContains( array( 'query.objectType', '=', 'igfeed' ), $controls['igfeedAccount']['required'] );
		}
	}

	public function test_run_returns_the_feed_for_our_type_only(): void {
		$items = apply_filters( 'bricks/query/run', array(), self::query( array( 'igfeedAccount' => 'shop', 'igfeedLimit' => '3', 'igfeedType' => array( 'VIDEO', 'IMAGE' ) ) ) );
		$this->assertCount( 3, $items );
		$this->assertSame( '17900000000000001', $items[0]['id'] );
		$this->assertSame( self::feed_url( 'shop' ) . '?type=IMAGE,VIDEO', $this->requests[0]['url'] );

		$this->assertSame( array( 'untouched' ), apply_filters( 'bricks/query/run', array( 'untouched' ), self::query( array(), 'post' ) ) );
		// Settings may also sit inside the query settings; defaults otherwise.
		$this->assertCount( 6, apply_filters( 'bricks/query/run', array(), self::query( array( 'query' => array( 'igfeedLimit' => 50 ) ) ) ) );
		$this->assertSame( array(), apply_filters( 'bricks/query/run', array(), self::query( array( 'igfeedAccount' => 'No Good' ) ) ) );
		$this->responder = fn() => new WP_Error( 'http_request_failed', 'down' );
		$this->assertSame( array(), apply_filters( 'bricks/query/run', array(), self::query( array( 'igfeedAccount' => 'down' ) ) ) );
	}

	public function test_tags_are_listed(): void {
		$tags = apply_filters( 'bricks/dynamic_tags_list', array( array( 'name' => '{post_title}', 'label' => 'Post title', 'group' => 'Post' ) ) );
		$this->assertCount( 9, $tags );
		$ours = array_slice( $tags, 1 );
		$this->assertSame(
			array( '{igfeed_image}', '{igfeed_caption}', '{igfeed_permalink}', '{igfeed_timestamp}', '{igfeed_media_type}', '{igfeed_alt}', '{igfeed_width}', '{igfeed_height}' ),
			array_column( $ours, 'name' )
		);
		$this->assertSame( array( 'Instagram (igfeed)' ), array_unique( array_column( $ours, 'group' ) ) );
	}

	public function test_render_tag_in_each_context(): void {
		$values = self::loop(
			self::query( array( 'igfeedLimit' => 2 ) ),
			function () {
				$tag = fn( $t, $c = 'text' ) => apply_filters( 'bricks/dynamic_data/render_tag', $t, get_post( 1 ), $c );
				return array(
					'image'      => $tag( 'igfeed_image', 'image' ),
					'image_text' => $tag( '{igfeed_image}' ),
					'caption'    => $tag( 'igfeed_caption' ),
					'caption2'   => $tag( '{igfeed_caption:2}' ),
					'permalink'  => $tag( 'igfeed_permalink', 'link' ),
					'timestamp'  => $tag( 'igfeed_timestamp:iso' ),
					'date'       => $tag( 'igfeed_timestamp:Y-m-d' ),
					'type'       => $tag( 'igfeed_media_type' ),
					'alt'        => $tag( 'igfeed_alt' ),
					'width'      => $tag( 'igfeed_width' ),
					'height'     => $tag( 'igfeed_height' ),
				);
			}
		);
		$this->assertSame(
			array(
				'image'      => array( 'https://feeds.example.com/media/17900000000000002' ),
				'image_text' => 'https://feeds.example.com/media/17900000000000002',
				'caption'    => 'Full contract album',
				'caption2'   => 'Full contract…',
				'permalink'  => 'https://www.instagram.com/p/AAAA/',
				'timestamp'  => '2026-11-01T10:00:00+00:00',
				'date'       => '2026-11-01',
				'type'       => 'CAROUSEL_ALBUM',
				'alt'        => 'Three bowls of ramen on a wooden table',
				'width'      => '1080',
				'height'     => '1350',
			),
			$values[0]
		);
		// The video: its thumbnail, no size, an escaped caption.
		$this->assertSame( array( 'https://feeds.example.com/media/17900000000000010/thumbnail' ), $values[1]['image'] );
		$this->assertSame( '', $values[1]['width'] );
		$this->assertSame( 'A reel &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more', $values[1]['caption'] );
		$this->assertSame( 'VIDEO', $values[1]['type'] );
	}

	public function test_render_content_replaces_every_tag(): void {
		$html = self::loop(
			self::query( array( 'igfeedLimit' => 6 ) ),
			fn() => apply_filters( 'bricks/dynamic_data/render_content', '<a href="{igfeed_permalink}"><img src="{igfeed_image}" alt="{igfeed_alt}" width="{igfeed_width}"></a> {post_title} {igfeed_unknown}', get_post( 1 ), 'text' )
		);
		$this->assertSame( '<a href="https://www.instagram.com/p/AAAA/"><img src="https://feeds.example.com/media/17900000000000002" alt="Three bowls of ramen on a wooden table" width="1080"></a> {post_title} {igfeed_unknown}', $html[0] );
		// No picture: empty src and width; bad permalink: empty href.
		$this->assertStringStartsWith( '<a href="https://www.instagram.com/reel/CCCC/"><img src="" alt="Copyright-flagged video" width="">', $html[2] );
		$this->assertStringStartsWith( '<a href=""><img src="https://feeds.example.com/media/17900000000000041/thumbnail"', $html[4] );
		// bricks/frontend/render_data takes two arguments.
		$this->assertSame( 'plain', apply_filters( 'bricks/frontend/render_data', 'plain', get_post( 1 ) ) );
	}

	public function test_outside_the_loop_tags_are_empty_and_others_untouched(): void {
		$this->assertSame( '', apply_filters( 'bricks/dynamic_data/render_tag', 'igfeed_caption', null, 'text' ) );
		$this->assertSame( array(), apply_filters( 'bricks/dynamic_data/render_tag', 'igfeed_image', null, 'image' ) );
		$this->assertSame( 'post_title', apply_filters( 'bricks/dynamic_data/render_tag', 'post_title', null, 'text' ) );
		$this->assertSame( '{post_title}', apply_filters( 'bricks/dynamic_data/render_tag', '{post_title}', null, 'text' ) );
		$this->assertSame( array( 1 ), apply_filters( 'bricks/dynamic_data/render_tag', array( 1 ), null, 'image' ) );
		$this->assertSame( 'x  y', apply_filters( 'bricks/dynamic_data/render_content', 'x {igfeed_caption} y', null, 'text' ) );
	}

	public function test_loop_object_id_is_the_instagram_id(): void {
		$ids = self::loop(
			self::query( array( 'igfeedLimit' => 2 ) ),
			fn( $item ) => apply_filters( 'bricks/query/loop_object_id', 0, $item, 'abcdef' )
		);
		$this->assertSame( array( '17900000000000001', '17900000000000010' ), $ids );
		$this->assertSame( 42, apply_filters( 'bricks/query/loop_object_id', 42, get_post( 1 ), 'abcdef' ) );
	}
}

<?php
/**
 * The grid's markup from the contract JSON, every null case included.
 *
 * @package igfeed
 */

/**
 * Shortcode, block and grid rendering.
 */
final class RenderTest extends Igfeed_TestCase {

	/** Renders a shortcode and returns [html, xpath]. */
	private function render( string $shortcode ): array {
		$html = do_shortcode( $shortcode );
		return array( $html, self::dom( $html ) );
	}

	public function test_attributes_are_sanitized(): void {
		$a = Igfeed_Render::attributes( array() );
		$this->assertSame( array( 'account' => 'default', 'limit' => 9, 'columns' => 3, 'type' => '', 'captions' => false ), $a );

		$a = Igfeed_Render::attributes( array( 'account' => ' Shop-2 ', 'limit' => '999', 'columns' => '0', 'type' => 'video, image,bogus', 'captions' => 'yes' ) );
		$this->assertSame( 'shop-2', $a['account'] );
		$this->assertSame( 50, $a['limit'] );
		$this->assertSame( 1, $a['columns'] );
		$this->assertSame( 'IMAGE,VIDEO', $a['type'] );
		$this->assertTrue( $a['captions'] );

		$this->assertSame( 1, Igfeed_Render::attributes( array( 'limit' => '-4' ) )['limit'] );
		$this->assertSame( 9, Igfeed_Render::attributes( array( 'limit' => 'many' ) )['limit'] );
		$this->assertSame( 6, Igfeed_Render::attributes( array( 'columns' => 12 ) )['columns'] );
		$this->assertFalse( Igfeed_Render::attributes( array( 'captions' => 'no' ) )['captions'] );
		$this->assertSame( '', Igfeed_Render::attributes( array( 'type' => 'IMAGE,VIDEO,CAROUSEL_ALBUM' ) )['type'] );
		$this->assertSame( 'CAROUSEL_ALBUM', Igfeed_Render::attributes( array( 'type' => 'carousel' ) )['type'] );

		foreach ( array( 'bad_name', '-leading', 'a/b', '../x', str_repeat( 'a', 41 ), 'spa ce' ) as $bad ) {
			$this->assertNull( Igfeed_Render::attributes( array( 'account' => $bad ) )['account'], $bad );
		}
		$this->assertSame( str_repeat( 'a', 40 ), Igfeed_Render::attributes( array( 'account' => str_repeat( 'a', 40 ) ) )['account'] );
	}

	public function test_full_contract_post_renders_every_attribute(): void {
		list( $html, $x ) = $this->render( '[igfeed limit="9" columns="4"]' );
		$this->assertSame( 1, $x->query( '//ul[@class="igfeed__grid"][@role="list"]' )->length );
		$this->assertSame( 'Instagram posts by @example', $x->query( '//ul' )->item( 0 )->getAttribute( 'aria-label' ) );
		$this->assertStringContainsString( '--igfeed-columns:4;--igfeed-columns-sm:2', $x->query( '//ul' )->item( 0 )->getAttribute( 'style' ) );
		$this->assertSame( 6, $x->query( '//li[contains(@class,"igfeed__item")]' )->length );

		$first = $x->query( '//li' )->item( 0 );
		$this->assertStringContainsString( 'igfeed__item--carousel_album', $first->getAttribute( 'class' ) );
		$a = $x->query( './/a', $first )->item( 0 );
		$this->assertSame( 'https://www.instagram.com/p/AAAA/', $a->getAttribute( 'href' ) );
		$img = $x->query( './/img', $first )->item( 0 );
		$this->assertSame( 'https://feeds.example.com/media/17900000000000002', $img->getAttribute( 'src' ) );
		$this->assertSame(
			'https://feeds.example.com/media/17900000000000002?w=320 320w, https://feeds.example.com/media/17900000000000002?w=640 640w, https://feeds.example.com/media/17900000000000002?w=1080 1080w',
			$img->getAttribute( 'srcset' )
		);
		$this->assertSame( '(max-width: 600px) 50vw, 25vw', $img->getAttribute( 'sizes' ) );
		$this->assertSame( '1080', $img->getAttribute( 'width' ) );
		$this->assertSame( '1350', $img->getAttribute( 'height' ) );
		$this->assertSame( 'Three bowls of ramen on a wooden table', $img->getAttribute( 'alt' ) );
		$this->assertSame( 'lazy', $img->getAttribute( 'loading' ) );
		$this->assertSame( 'background-color:#a1b2c3', $img->getAttribute( 'style' ) );
		$this->assertSame( 1, $x->query( './/span[contains(@class,"igfeed__badge--album")][@aria-hidden="true"]', $first )->length );
		$this->assertSame( '(album)', trim( $x->query( './/span[@class="igfeed__sr"]', $first )->item( 0 )->textContent ) );
	}

	public function test_srcset_lists_no_variant_wider_than_the_picture(): void {
		$this->responder = fn() => array(
			200,
			wp_json_encode(
				self::feed(
					function ( $f ) {
						$f['data'][0]['width']  = 500;
						$f['data'][0]['height'] = 500;
						return $f;
					}
				)
			),
		);
		$img = self::dom( do_shortcode( '[igfeed limit="1"]' ) )->query( '//img' )->item( 0 );
		$this->assertSame(
			'https://feeds.example.com/media/17900000000000002?w=320 320w, https://feeds.example.com/media/17900000000000002 500w',
			$img->getAttribute( 'srcset' )
		);
		$this->assertSame( '500', $img->getAttribute( 'width' ) );
	}

	public function test_null_fields_fall_back(): void {
		list( $html, $x ) = $this->render( '[igfeed]' );
		$items = $x->query( '//li' );

		// Video without display_url: its thumbnail, no size, no srcset, a play badge.
		$video = $items->item( 1 );
		$img   = $x->query( './/img', $video )->item( 0 );
		$this->assertSame( 'https://feeds.example.com/media/17900000000000010/thumbnail', $img->getAttribute( 'src' ) );
		foreach ( array( 'width', 'height', 'srcset', 'sizes', 'style' ) as $attr ) {
			$this->assertFalse( $img->hasAttribute( $attr ), $attr );
		}
		$this->assertSame( 1, $x->query( './/span[contains(@class,"igfeed__badge--video")]', $video )->length );
		$this->assertSame( '(video)', trim( $x->query( './/span[@class="igfeed__sr"]', $video )->item( 0 )->textContent ) );

		// Copyright-flagged video: no picture at all, still a named link.
		$flagged = $items->item( 2 );
		$this->assertSame( 0, $x->query( './/img', $flagged )->length );
		$this->assertSame( 'Copyright-flagged video', $x->query( './/span[@class="igfeed__placeholder"]', $flagged )->item( 0 )->textContent );
		$this->assertSame( 'https://www.instagram.com/reel/CCCC/', $x->query( './/a', $flagged )->item( 0 )->getAttribute( 'href' ) );

		// Image without display_url, width without height, bad colour, no caption.
		$image = $items->item( 3 );
		$img   = $x->query( './/img', $image )->item( 0 );
		$this->assertSame( 'https://feeds.example.com/media/17900000000000030', $img->getAttribute( 'src' ) );
		$this->assertFalse( $img->hasAttribute( 'width' ) );
		$this->assertFalse( $img->hasAttribute( 'height' ) );
		$this->assertFalse( $img->hasAttribute( 'style' ) );
		$this->assertMatchesRegularExpression( '/^Instagram post by @example on .*2026$/', $img->getAttribute( 'alt' ) );

		// Album without a cover: the first child's picture; a javascript: permalink is no link.
		$album = $items->item( 4 );
		$img   = $x->query( './/img', $album )->item( 0 );
		$this->assertSame( 'https://feeds.example.com/media/17900000000000041/thumbnail', $img->getAttribute( 'src' ) );
		$this->assertSame( '640', $img->getAttribute( 'width' ) );
		$this->assertSame( 'Album without a cover', $img->getAttribute( 'alt' ) );
		$this->assertSame( 0, $x->query( './/a', $album )->length );
		$this->assertStringNotContainsString( 'javascript:', $html );

		// An igfeed without the display fields at all.
		$old = $items->item( 5 );
		$img = $x->query( './/img', $old )->item( 0 );
		$this->assertSame( 'https://feeds.example.com/media/17900000000000050', $img->getAttribute( 'src' ) );
		$this->assertFalse( $img->hasAttribute( 'srcset' ) );
	}

	public function test_output_is_escaped(): void {
		list( $html, $x ) = $this->render( '[igfeed captions="yes"]' );
		$this->assertStringNotContainsString( '<script>', $html );
		$video = $x->query( '//li' )->item( 1 );
		$this->assertSame( 'A reel <script>alert("x")</script> & more', $x->query( './/img', $video )->item( 0 )->getAttribute( 'alt' ) );
		$this->assertSame( 'A reel <script>alert("x")</script> & more', $x->query( './/p[@class="igfeed__caption"]', $video )->item( 0 )->textContent );
		$this->assertStringContainsString( '&lt;script&gt;', $html );
	}

	public function test_captions_only_when_asked(): void {
		$this->assertStringNotContainsString( 'igfeed__caption', do_shortcode( '[igfeed]' ) );
		$x = self::dom( do_shortcode( '[igfeed captions="yes"]' ) );
		// Posts with a caption: 5 of 6.
		$this->assertSame( 5, $x->query( '//p[@class="igfeed__caption"]' )->length );
	}

	public function test_limit_and_type_reach_igfeed(): void {
		$x = self::dom( do_shortcode( '[igfeed limit="2"]' ) );
		$this->assertSame( 2, $x->query( '//li' )->length );
		do_shortcode( '[igfeed account="shop" type="video,carousel_album"]' );
		$last = end( $this->requests );
		$this->assertSame( self::feed_url( 'shop' ) . '?type=VIDEO%2CCAROUSEL_ALBUM', str_replace( ',', '%2C', $last['url'] ) );
	}

	public function test_no_user_gives_a_generic_label(): void {
		$this->responder = fn() => array( 200, wp_json_encode( self::feed( fn( $f ) => array( 'data' => $f['data'] ) ) ) );
		$x               = self::dom( do_shortcode( '[igfeed]' ) );
		$this->assertSame( 'Instagram posts', $x->query( '//ul' )->item( 0 )->getAttribute( 'aria-label' ) );
	}

	public function test_problems_are_a_comment_for_visitors_and_a_notice_for_editors(): void {
		$this->responder = fn() => array( 404, '{"type":"about:blank","title":"Not Found","status":404}', array( 'content-type' => 'application/problem+json' ) );
		$html            = do_shortcode( '[igfeed account="nobody"]' );
		$this->assertSame( '<!-- igfeed: igfeed has no account &quot;nobody&quot;. -->', $html );
		$this->login( 'editor' );
		$this->assertStringContainsString( '<p class="igfeed igfeed--error" role="status">', do_shortcode( '[igfeed account="nobody"]' ) );
		$before = count( $this->requests );
		$this->assertStringStartsWith( '<!-- igfeed: invalid account name --><p class="igfeed igfeed--error"', do_shortcode( '[igfeed account="Bad Name"]' ) );
		$this->assertCount( $before, $this->requests, 'an invalid account is never requested' );
	}

	public function test_block_renders_like_the_shortcode(): void {
		$html = do_blocks( '<!-- wp:igfeed/feed {"limit":3} /-->' );
		$x    = self::dom( $html );
		$this->assertSame( 3, $x->query( '//li' )->length );
		$this->assertSame( 1, $x->query( '//div[contains(@class,"wp-block-igfeed-feed")]' )->length );

		$x = self::dom( do_blocks( '<!-- wp:igfeed/feed {"limit":2,"columns":5,"captions":true,"type":"IMAGE","align":"wide","className":"mine"} /-->' ) );
		$div = $x->query( '//div[contains(@class,"igfeed")]' )->item( 0 );
		$this->assertStringContainsString( 'alignwide', $div->getAttribute( 'class' ) );
		$this->assertStringContainsString( 'mine', $div->getAttribute( 'class' ) );
		$this->assertStringContainsString( '--igfeed-columns:5', $x->query( '//ul' )->item( 0 )->getAttribute( 'style' ) );
		$this->assertStringContainsString( 'type=IMAGE', end( $this->requests )['url'] );
	}

	public function test_block_is_registered_with_the_shortcode_attributes(): void {
		$block = WP_Block_Type_Registry::get_instance()->get_registered( 'igfeed/feed' );
		$this->assertNotNull( $block );
		$this->assertSame( array( 'account', 'limit', 'columns', 'type', 'captions' ), array_values( array_intersect( array_keys( $block->attributes ), array( 'account', 'limit', 'columns', 'type', 'captions' ) ) ) );
		$this->assertSame( 'default', $block->attributes['account']['default'] );
		$this->assertSame( 9, $block->attributes['limit']['default'] );
		$this->assertTrue( $block->is_dynamic() );
	}

	public function test_block_preview_through_the_rest_block_renderer(): void {
		$this->login( 'editor' );
		$request = new WP_REST_Request( 'GET', '/wp/v2/block-renderer/igfeed/feed' );
		$request->set_query_params( array( 'context' => 'edit', 'attributes' => array( 'limit' => 2 ) ) );
		$response = rest_do_request( $request );
		$this->assertSame( 200, $response->get_status() );
		$this->assertSame( 2, self::dom( $response->get_data()['rendered'] )->query( '//li' )->length );
	}

	public function test_stylesheet_is_enqueued_and_no_script_for_visitors(): void {
		wp_dequeue_style( 'igfeed' );
		do_shortcode( '[igfeed]' );
		$this->assertTrue( wp_style_is( 'igfeed', 'enqueued' ) );
		$this->assertFalse( wp_script_is( 'igfeed-block-editor', 'enqueued' ) );
	}
}
